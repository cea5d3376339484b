package nemesis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/internal/ctxtime"
)

// healTimeout bounds the heal of one fault.
const healTimeout = 2 * time.Minute

// Run alternates healthy periods and faults until ctx ends; the caller then
// heals with Heal(ctx, history.FinalHeal). Without overlap one schedule deals
// every kind in rounds; with it each kind has a schedule of its own, with its
// own seeded timing. A fault that cannot be applied or undone is recorded
// and ends the run with an error.
func (n *Nemesis) Run(ctx context.Context) error {
	if len(n.cfg.Faults) == 0 {
		<-ctx.Done()
		return nil
	}
	if !n.cfg.Overlap {
		return n.cycle(ctx, n.cfg.Faults, rand.New(rand.NewPCG(n.cfg.Seed, 0)))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(n.cfg.Faults))
	var wg sync.WaitGroup
	for i, kind := range n.cfg.Faults {
		wg.Go(func() {
			errs[i] = n.cycle(ctx, []string{kind}, rand.New(rand.NewPCG(n.cfg.Seed, uint64(i+1))))
			if errs[i] != nil {
				cancel() // one failure ends every schedule
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// cycle alternates healthy periods and faults of the given kinds, dealt in
// rounds, until ctx ends. rng draws the kinds and the periods.
func (n *Nemesis) cycle(ctx context.Context, kinds []string, rng *rand.Rand) error {
	jitter := func() time.Duration {
		return n.cfg.Interval/2 + time.Duration(rng.Int64N(int64(n.cfg.Interval)+1))
	}
	var deck []string
	for {
		if !ctxtime.Sleep(ctx, jitter()) {
			return nil
		}
		var kind string
		kind, deck = deal(deck, kinds, rng)
		if ctx.Err() != nil {
			return nil
		}
		if err := n.start(ctx, kind); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if !ctxtime.Sleep(ctx, jitter()) {
			return nil
		}
		// A heal that has begun runs to its end, also if the run ends
		// meanwhile; the final heal comes after it.
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healTimeout)
		err := n.Heal(hctx, "stop-"+kind)
		cancel()
		if err != nil {
			return err
		}
	}
}

// deal draws the next fault from a shuffled deck of every configured kind,
// reshuffling when it is empty: the order is random, yet every kind occurs
// once per round, so a short run still exercises each requested fault.
func deal(deck, faults []string, rng *rand.Rand) (string, []string) {
	if len(deck) == 0 {
		deck = slices.Clone(faults)
		rng.Shuffle(len(deck), func(i, j int) { deck[i], deck[j] = deck[j], deck[i] })
	}
	return deck[0], deck[1:]
}

// Heal undoes an active fault and records f: "stop-<kind>" ends that kind's
// fault, history.FinalHeal every one. A fault whose undo fails stays active,
// so that the final heal tries again. The final heal also clears the
// network, resumes and starts every node and, if clock faults ran, resets
// every clock, whatever is believed active, so a run always ends healed.
func (n *Nemesis) Heal(ctx context.Context, f string) error {
	final := f == history.FinalHeal
	n.mu.Lock()
	var ending []*fault
	if final {
		for _, kind := range slices.Sorted(maps.Keys(n.active)) {
			ending = append(ending, n.active[kind])
		}
	} else if a := n.active[strings.TrimPrefix(f, "stop-")]; a != nil {
		ending = []*fault{a}
	}
	n.mu.Unlock()
	if len(ending) == 0 && !final {
		return nil
	}
	var err error
	var healed []map[string]any
	undone := make([]bool, len(ending))
	for i, a := range ending {
		healed = append(healed, map[string]any{"kind": a.kind, "nodes": a.nodes})
		e := n.undo(ctx, a)
		undone[i] = e == nil
		err = errors.Join(err, e)
	}
	if final {
		if n.cl.NetworkError() == nil {
			err = errors.Join(err, n.cl.HealNetwork(ctx))
		}
		// Every known node; not one whose addition failed half-way (it
		// would enter the ring during the final reads).
		n.mu.Lock()
		ids := n.ids()
		n.mu.Unlock()
		for _, id := range ids {
			err = errors.Join(err, n.cl.Resume(ctx, id), n.cl.Start(ctx, id))
		}
		if slices.ContainsFunc(n.cfg.Faults, clockKind) {
			for _, id := range ids {
				if e := n.admin.SetClockOffset(ctx, id, 0); e != nil {
					err = errors.Join(err, fmt.Errorf("reset clock of %s: %w", id, e))
				}
			}
		}
	}
	var value any
	switch {
	case len(healed) == 1:
		value = healed[0]
	case len(healed) > 1:
		value = healed
	}
	// Recorded while the nodes are still reserved, so that no other fault
	// can start on them before this one ends in the history. A stop whose
	// undo failed does not end the fault there: the final heal does.
	rf := f
	if !final && err != nil {
		rf = "heal-failed-" + strings.TrimPrefix(f, "stop-")
	}
	n.record(rf, value, err)
	n.mu.Lock()
	for i, a := range ending {
		if undone[i] || final {
			delete(n.active, a.kind)
		}
	}
	n.summarize()
	n.mu.Unlock()
	if err != nil {
		return fmt.Errorf("nemesis heal: %w", err)
	}
	return nil
}

// HealAll ends every fault with a final heal, and while that fails tries
// again every interval until it succeeds or ctx ends: a kill cancelled at
// the end of a run can race its restart, and a clock reset can meet a
// connection still backing off. Each attempt is recorded with its error.
func (n *Nemesis) HealAll(ctx context.Context, interval time.Duration) error {
	for {
		err := n.Heal(ctx, history.FinalHeal)
		if err == nil || !ctxtime.Sleep(ctx, interval) {
			return err
		}
	}
}
