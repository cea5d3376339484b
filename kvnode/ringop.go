package kvnode

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/placement"
	"github.com/quorumlab/quorumlab/kvnode/ring"
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

// ringOp is a join or decommission under way.
type ringOp struct {
	kind string
	done chan struct{}
	err  error
}

// startRingOp runs op in the background unless a ring change is under way:
// the same kind is joined, another kind is refused.
func (n *Node) startRingOp(kind string, op func(context.Context) error) (*ringOp, error) {
	n.ringOpMu.Lock()
	defer n.ringOpMu.Unlock()
	if cur := n.ringOpCur; cur != nil {
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
	n.ringOpCur = o
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		o.err = op(n.stop)
		if o.err != nil && n.stop.Err() == nil {
			n.log.Error("ring: "+kind+" failed", "err", o.err)
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
func (n *Node) settle(ctx context.Context) error {
	d := time.Second
	if g := n.cfg.Gossip; g != nil {
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
func (n *Node) join(ctx context.Context) error {
	v := n.ring.View()
	switch st := v.Status(n.cfg.ID); st {
	case kvpb.StatusMember:
		return nil
	case kvpb.StatusLeaving:
		return errors.New("join: the node is leaving the ring; decommission it first")
	}
	others := slices.DeleteFunc(v.Current.Nodes(), func(r ring.Node) bool { return r.ID == n.cfg.ID })
	if len(others) == 0 {
		// The first node of a ring: there is nothing to pull.
		return n.setStatus(kvpb.StatusMember)
	}
	if v.Status(n.cfg.ID) != kvpb.StatusJoining {
		if err := n.setStatus(kvpb.StatusJoining); err != nil {
			return err
		}
		if err := n.settle(ctx); err != nil {
			return err
		}
	}
	start := time.Now()
	pulled := map[string]bool{}
	total := 0
	for {
		v = n.ring.View()
		total += n.pullFromLive(ctx, v, v.Target.Ranges(n.cfg.ID, n.cfg.N), pulled, "join")
		if placement.Covered(v, n.cfg.ID, n.cfg.N, n.cfg.W, pulled) {
			break
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return fmt.Errorf("join: waiting for enough replicas of every range to pull from: %w", err)
		}
	}
	if err := n.setStatus(kvpb.StatusMember); err != nil {
		return err
	}
	n.log.Info("ring: joined", "pulled_keys", total, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// covered reports whether self, joining, pulled every range it will own
// from at least N-W+1 of the range's current replicas (all of them if
// fewer): then every write acknowledged by W replicas reached one of them.
// pullFromLive pulls ranges from every live node of v not yet in pulled,
// marks those that answered in full, and returns how many keys came; a
// failed pull is retried by the caller's next round. reason labels the
// metric and the log.
func (n *Node) pullFromLive(ctx context.Context, v *placement.View, ranges []ring.Range, pulled map[string]bool, reason string) int {
	total := 0
	for _, src := range v.Current.Nodes() {
		if src.ID == n.cfg.ID || pulled[src.ID] || !n.coord.live(ctx, src.ID) {
			continue
		}
		got, _, err := n.mover.pull(ctx, src.ID, ranges, 0, nil)
		total += got
		n.met.transferred.WithLabelValues(reason).Add(float64(got))
		if err != nil {
			n.log.Warn(reason+": pull failed; will retry", "from", src.ID, "err", err)
			continue
		}
		pulled[src.ID] = true
		n.log.Info(reason+": pulled ranges", "from", src.ID, "keys", got)
	}
	return total
}

// decommission takes this node out of the ring.
func (n *Node) decommission(ctx context.Context) error {
	v := n.ring.View()
	switch st := v.Status(n.cfg.ID); st {
	case kvpb.StatusLeft:
		return nil
	case kvpb.StatusMember, kvpb.StatusLeaving:
	default:
		return fmt.Errorf("decommission: the node is not a ring member (%s)", st)
	}
	if n.gossip == nil {
		return errors.New("decommission: static membership (--peers without --join): the ring cannot change")
	}
	if v.Target.Len() == 0 || (v.Target.Len() == 1 && v.Status(n.cfg.ID) == kvpb.StatusMember) {
		return errors.New("decommission: this is the last node of the ring")
	}
	if v.Status(n.cfg.ID) == kvpb.StatusMember {
		if err := n.setStatus(kvpb.StatusLeaving); err != nil {
			return err
		}
		if err := n.settle(ctx); err != nil {
			return err
		}
	}
	start := time.Now()
	moved := 0
	for {
		v = n.ring.View()
		all := []ring.Range{{Start: 0, End: 0}} // the whole ring
		m, kept := n.handOff(ctx, all, func(token uint64) []string {
			return v.Target.PreferenceListForToken(token, n.cfg.N)
		}, false, "decommission")
		moved += m
		if kept == 0 {
			break
		}
		n.log.Warn("ring: decommission: some keys found no reachable new owner; retrying", "kept", kept)
		if err := sleepCtx(ctx, time.Second); err != nil {
			return fmt.Errorf("decommission: %d keys not handed over: %w", kept, err)
		}
	}
	if err := n.handHintsOn(ctx, v); err != nil {
		return err
	}
	if err := n.setStatus(kvpb.StatusLeft); err != nil {
		return err
	}
	n.log.Info("ring: decommissioned", "pushed_keys", moved, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// handHintsOn gives every hint to its owner if reachable, else to a
// reachable node that stays in the ring, as a hint: a leaving node will not
// be around to deliver them.
func (n *Node) handHintsOn(ctx context.Context, v *placement.View) error {
	for {
		var hs []hint
		err := n.store.ScanHints(func(owner string, token uint64, key []byte, set *kvpb.VersionSet) error {
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
				to = n.firstLive(ctx, v.Target.PreferenceListForToken(h.token, n.cfg.N), "")
			case n.coord.live(ctx, h.owner):
				to = h.owner
			default:
				to, hintFor = n.firstLive(ctx, v.Target.PreferenceListForToken(h.token, v.Target.Len()), h.owner), h.owner
			}
			if to == "" {
				continue
			}
			if _, err := n.mover.push(ctx, to, []*kvpb.Entry{{Key: h.key, Set: h.set, HintFor: hintFor}}); err != nil {
				continue
			}
			n.dropHints([]hint{h})
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
func (n *Node) firstLive(ctx context.Context, ids []string, skip string) string {
	for _, id := range ids {
		if id != n.cfg.ID && id != skip && n.coord.live(ctx, id) {
			return id
		}
	}
	return ""
}
