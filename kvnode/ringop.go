package kvnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/membership"
	"github.com/quorumlab/quorumlab/kvnode/placement"
	"github.com/quorumlab/quorumlab/kvnode/ring"
	"github.com/quorumlab/quorumlab/kvnode/storage"
)

// Ring changes. A node changes only its own ring entry:
//
// Join: none → joining → member. While joining, coordinators send it the
// writes of the ranges it will own (uncounted), and it pulls those ranges
// from every reachable current owner until, for every range, it has pulled
// from enough of the range's replicas that any write acknowledged by W of
// them reached one it pulled from (N-W+1). Then it becomes a member; the
// nodes that lost a range hand what they hold of it over (rebalance) and
// drop it.
//
// Decommission: member → leaving → left. While leaving it still owns its
// ranges, and their next owners get its writes (uncounted); it pushes all
// its data to the next owners, hands its hints on, and leaves. What it
// still holds then (late writes) is handed over and dropped by rebalance.
//
// A node that is merely down keeps its status: it stays in the ring.

// ringChanger carries out this node's ring changes (join, decommission)
// and the rebuilding of a damaged replica: it sets the node's status, waits
// for gossip to spread it and moves the data, through the ring manager, the
// mover and upkeep. It knows nothing of the node.
type ringChanger struct {
	cfg      Config
	log      *slog.Logger
	met      *metrics
	ring     *ringManager
	coord    *coordinator
	mover    *mover
	upkeep   *upkeep
	replica  *replica
	counters *counters
	store    *storage.Store
	gossip   *membership.Membership // set once gossip starts; nil: static membership
	bg       *sync.WaitGroup
	stop     context.Context

	mu  sync.Mutex
	cur *ringOp // the change under way, or the last one
}

// ringOp is a join or decommission under way.
type ringOp struct {
	kind string
	done chan struct{}
	err  error
}

// startRingOp runs op in the background unless a ring change is under way:
// the same kind is joined, another kind is refused.
func (rc *ringChanger) startRingOp(kind string, op func(context.Context) error) (*ringOp, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if cur := rc.cur; cur != nil {
		select {
		case <-cur.done:
		default:
			if cur.kind == kind {
				return cur, nil
			}
			return nil, fmt.Errorf("a %s is under way", cur.kind)
		}
	}
	o := &ringOp{kind: kind, done: make(chan struct{})}
	rc.cur = o
	rc.bg.Add(1)
	go func() {
		defer rc.bg.Done()
		o.err = op(rc.stop)
		if o.err != nil && rc.stop.Err() == nil {
			rc.log.Error("ring: "+kind+" failed", "err", o.err)
		}
		close(o.done)
	}()
	return o, nil
}

// wait waits for the operation or ctx.
func (o *ringOp) wait(ctx context.Context) error {
	select {
	case <-o.done:
		return o.err
	case <-ctx.Done():
		return fmt.Errorf("%s still under way: %w", o.kind, ctx.Err())
	}
}

// settle waits long enough for a status change to reach every reachable
// node by gossip, so coordinators send writes to the new replicas before
// data moves.
func (rc *ringChanger) settle(ctx context.Context) error {
	d := time.Second
	if g := rc.cfg.Gossip; g != nil {
		d = max(d, 10*g.GossipInterval, 2*g.ProbeInterval)
	}
	return sleepCtx(ctx, d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// join makes this node a ring member.
func (rc *ringChanger) join(ctx context.Context) error {
	v := rc.ring.View()
	switch st := v.Status(rc.cfg.ID); st {
	case kvpb.StatusMember:
		return nil
	case kvpb.StatusLeaving:
		return errors.New("join: the node is leaving the ring; decommission it first")
	}
	others := slices.DeleteFunc(v.Current.Nodes(), func(r ring.Node) bool { return r.ID == rc.cfg.ID })
	if len(others) == 0 {
		// The first node of a ring: there is nothing to pull.
		return rc.setStatus(kvpb.StatusMember)
	}
	if v.Status(rc.cfg.ID) != kvpb.StatusJoining {
		if err := rc.setStatus(kvpb.StatusJoining); err != nil {
			return err
		}
		if err := rc.settle(ctx); err != nil {
			return err
		}
	}
	start := time.Now()
	pulled := map[string]bool{}
	total := 0
	for {
		v = rc.ring.View()
		total += rc.pullFromLive(ctx, v, v.Target.Ranges(rc.cfg.ID, rc.cfg.N), pulled, "join")
		if placement.Covered(v, rc.cfg.ID, rc.cfg.N, rc.cfg.W, pulled) {
			break
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return fmt.Errorf("join: waiting for enough replicas of every range to pull from: %w", err)
		}
	}
	if err := rc.setStatus(kvpb.StatusMember); err != nil {
		return err
	}
	rc.log.Info("ring: joined", "pulled_keys", total, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// covered reports whether self, joining, pulled every range it will own
// from at least N-W+1 of the range's current replicas (all of them if
// fewer): then every write acknowledged by W replicas reached one of them.
// pullFromLive pulls ranges from every live node of v not yet in pulled,
// marks those that answered in full, and returns how many keys came; a
// failed pull is retried by the caller's next round. reason labels the
// metric and the log.
func (rc *ringChanger) pullFromLive(ctx context.Context, v *placement.View, ranges []ring.Range, pulled map[string]bool, reason string) int {
	total := 0
	for _, src := range v.Current.Nodes() {
		if src.ID == rc.cfg.ID || pulled[src.ID] || !rc.coord.live(ctx, src.ID) {
			continue
		}
		got, _, err := rc.mover.pull(ctx, src.ID, ranges, 0, nil)
		total += got
		rc.met.transferred.WithLabelValues(reason).Add(float64(got))
		if err != nil {
			rc.log.Warn(reason+": pull failed; will retry", "from", src.ID, "err", err)
			continue
		}
		pulled[src.ID] = true
		rc.log.Info(reason+": pulled ranges", "from", src.ID, "keys", got)
	}
	return total
}

// decommission takes this node out of the ring.
func (rc *ringChanger) decommission(ctx context.Context) error {
	v := rc.ring.View()
	switch st := v.Status(rc.cfg.ID); st {
	case kvpb.StatusLeft:
		return nil
	case kvpb.StatusMember, kvpb.StatusLeaving:
	default:
		return fmt.Errorf("decommission: the node is not a ring member (%s)", st)
	}
	if rc.gossip == nil {
		return errors.New("decommission: static membership (--peers without --join): the ring cannot change")
	}
	if v.Target.Len() == 0 || (v.Target.Len() == 1 && v.Status(rc.cfg.ID) == kvpb.StatusMember) {
		return errors.New("decommission: this is the last node of the ring")
	}
	if v.Status(rc.cfg.ID) == kvpb.StatusMember {
		if err := rc.setStatus(kvpb.StatusLeaving); err != nil {
			return err
		}
		if err := rc.settle(ctx); err != nil {
			return err
		}
	}
	start := time.Now()
	moved := 0
	for {
		v = rc.ring.View()
		all := []ring.Range{{Start: 0, End: 0}} // the whole ring
		m, kept := rc.upkeep.handOff(ctx, all, func(token uint64) []string {
			return v.Target.PreferenceListForToken(token, rc.cfg.N)
		}, false, "decommission")
		moved += m
		if kept == 0 {
			break
		}
		rc.log.Warn("ring: decommission: some keys found no reachable new owner; retrying", "kept", kept)
		if err := sleepCtx(ctx, time.Second); err != nil {
			return fmt.Errorf("decommission: %d keys not handed over: %w", kept, err)
		}
	}
	if err := rc.handHintsOn(ctx, v); err != nil {
		return err
	}
	if err := rc.setStatus(kvpb.StatusLeft); err != nil {
		return err
	}
	rc.log.Info("ring: decommissioned", "pushed_keys", moved, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// handHintsOn gives every hint to its owner if reachable, else to a
// reachable node that stays in the ring, as a hint: a leaving node will not
// be around to deliver them.
func (rc *ringChanger) handHintsOn(ctx context.Context, v *placement.View) error {
	for {
		var hs []hint
		err := rc.store.ScanHints(func(owner string, token uint64, key []byte, set *kvpb.VersionSet) error {
			hs = append(hs, hint{owner, token, key, set})
			if len(hs) >= batchKeys {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return fmt.Errorf("decommission: scan hints: %w", err)
		}
		if len(hs) == 0 {
			return nil
		}
		progress := false
		for _, h := range hs {
			to, hintFor := "", ""
			switch {
			case v.Status(h.owner) == kvpb.StatusLeft || v.Status(h.owner) == kvpb.StatusNone:
				// Its owner is gone too: the data goes to a current replica.
				to = rc.firstLive(ctx, v.Target.PreferenceListForToken(h.token, rc.cfg.N), "")
			case rc.coord.live(ctx, h.owner):
				to = h.owner
			default:
				to, hintFor = rc.firstLive(ctx, v.Target.PreferenceListForToken(h.token, v.Target.Len()), h.owner), h.owner
			}
			if to == "" {
				continue
			}
			if _, err := rc.mover.push(ctx, to, []*kvpb.Entry{{Key: h.key, Set: h.set, HintFor: hintFor}}); err != nil {
				continue
			}
			rc.upkeep.dropHints([]hint{h})
			progress = true
		}
		if !progress {
			if err := sleepCtx(ctx, time.Second); err != nil {
				return fmt.Errorf("decommission: hints not handed on: %w", err)
			}
		}
	}
}

var errStop = errors.New("stop")

// firstLive returns the first reachable id other than this node and skip.
func (rc *ringChanger) firstLive(ctx context.Context, ids []string, skip string) string {
	for _, id := range ids {
		if id != rc.cfg.ID && id != skip && rc.coord.live(ctx, id) {
			return id
		}
	}
	return ""
}

// setStatus changes this node's ring status and spreads it.
func (rc *ringChanger) setStatus(status string) error {
	if rc.gossip == nil {
		return errors.New("static membership (--peers without --join): the ring cannot change")
	}
	from, err := rc.ring.setStatus(status)
	if err != nil {
		return err
	}
	rc.log.Info("ring: status changed", "from", from, "to", status)
	// Waits for the broadcast to leave, not for every node to hear it.
	if err := rc.gossip.UpdateMeta(2 * time.Second); err != nil {
		rc.log.Debug("ring: status broadcast", "err", err)
	}
	return nil
}

// recoverRanges pulls this node's ranges from their other replicas until
// every range is covered, then lets the replica serve.
func (rc *ringChanger) recoverRanges(ctx context.Context) {
	start := time.Now()
	pulled := map[string]bool{}
	total := 0
	lastWarn := time.Time{}
	for {
		v := rc.ring.View()
		total += rc.pullFromLive(ctx, v, v.Current.Ranges(rc.cfg.ID, rc.cfg.N), pulled, "recover")
		if placement.Rebuilt(v, rc.cfg.ID, rc.cfg.N, rc.cfg.W, pulled) {
			break
		}
		if time.Since(lastWarn) > 10*time.Second {
			lastWarn = time.Now()
			rc.log.Warn("recover: waiting for more replicas of this node's ranges to pull from", "pulled_from", slices.Sorted(maps.Keys(pulled)))
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return
		}
	}
	if err := rc.raiseCounters(); err != nil {
		rc.log.Error("recover: raising the vclock counters failed; the replica stays out of service", "err", err)
		return
	}
	rc.replica.recovering.Store(false)
	rc.log.Info("recover: rebuilt this node's ranges from their replicas; serving", "pulled_keys", total,
		"from", slices.Sorted(maps.Keys(pulled)), "took", time.Since(start).Round(time.Millisecond))
}

// raiseCounters reserves counters above every counter of this node in the
// rebuilt data: its dots, clock entries and stand-in actors (<id>~<n>).
func (rc *ringChanger) raiseCounters() error {
	self, standIn := rc.cfg.ID, rc.cfg.ID+"~"
	var top uint64
	err := rc.store.Scan(0, math.MaxUint64, func(_ uint64, _ []byte, set *kvpb.VersionSet) error {
		for _, v := range set.GetVersions() {
			d := v.GetDot()
			if d.GetNode() == self {
				top = max(top, d.GetCounter())
			} else if s, ok := strings.CutPrefix(d.GetNode(), standIn); ok {
				if c, err := strconv.ParseUint(s, 10, 64); err == nil {
					top = max(top, c)
				}
			}
			for _, e := range v.GetClock() {
				if e.GetNode() == self {
					top = max(top, e.GetCounter())
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return rc.counters.raise(top + 1)
}
