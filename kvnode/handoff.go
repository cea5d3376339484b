package kvnode

import (
	"context"
	"slices"
	"time"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/placement"
	"github.com/quorumlab/quorumlab/kvnode/ring"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

// Handoff moves data to where it belongs:
//   - hinted handoff: hints a stand-in holds go to their home replica once
//     it is reachable again, and are removed once it has them;
//   - rebalancing: after the ring changed, data this node no longer owns
//     goes to its owners and is removed here (what a decommissioned node
//     holds, or what a joining node took over);
//   - draining: a leaving node's data goes to the next owners first.
// Every removal is conditional on the local copy being exactly what was
// shipped, so a write that lands meanwhile is kept and shipped next round.

// hintsPerRound bounds the hints collected per owner in one round.
const hintsPerRound = 4096

// every runs f every interval until the node stops.
func (n *Node) every(interval time.Duration, f func(ctx context.Context)) {
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-n.stop.Done():
				return
			case <-t.C:
			}
			if n.store.Damage() != nil {
				continue // nothing here may touch a damaged store
			}
			f(n.stop)
		}
	}()
}

// startBackground starts the node's maintenance loops.
func (n *Node) startBackground() {
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		n.ringLoop()
	}()
	if n.replica.recovering.Load() {
		n.bg.Add(1)
		go func() {
			defer n.bg.Done()
			n.recoverRanges(n.stop)
		}()
	}
	n.every(n.cfg.HandoffInterval, func(ctx context.Context) {
		n.deliverHints(ctx)
		n.rebalance(ctx)
	})
	if n.cfg.AntiEntropyInterval > 0 {
		n.every(n.cfg.AntiEntropyInterval, n.antiEntropy)
	}
	if n.cfg.TombstoneGrace > 0 && n.cfg.Mode != version.Linearizable {
		n.every(tombstoneSweepInterval(n.cfg.TombstoneGrace), n.collectTombstones)
	}
}

type hint struct {
	owner string
	token uint64
	key   []byte
	set   *kvpb.VersionSet
}

// deliverHints hands every hint whose home replica is reachable to it. A
// hint for a node that left the ring goes to the key's current replicas.
func (n *Node) deliverHints(ctx context.Context) {
	byOwner := map[string][]hint{}
	var total int
	err := n.store.ScanHints(func(owner string, token uint64, key []byte, set *kvpb.VersionSet) error {
		total++
		if len(byOwner[owner]) < hintsPerRound {
			byOwner[owner] = append(byOwner[owner], hint{owner, token, key, set})
		}
		return nil
	})
	n.met.hintsPending.Set(float64(total))
	if err != nil {
		n.log.Error("handoff: scan hints", "err", err)
		return
	}
	v := n.ring.View()
	for owner, hs := range byOwner {
		if ctx.Err() != nil {
			return
		}
		if st := v.Status(owner); st == kvpb.StatusLeft || st == kvpb.StatusNone {
			n.rehome(ctx, v, hs)
			continue
		}
		if !n.coord.live(ctx, owner) {
			continue
		}
		entries := make([]*kvpb.Entry, len(hs))
		for i, h := range hs {
			entries[i] = &kvpb.Entry{Key: h.key, Set: h.set}
		}
		acked, err := n.mover.push(ctx, owner, entries)
		n.dropHints(hs[:acked])
		if err != nil {
			n.log.Debug("handoff: deliver hints", "owner", owner, "delivered", acked, "err", err)
		} else if acked > 0 {
			n.log.Info("handoff: delivered hints", "owner", owner, "keys", acked)
		}
	}
}

// dropHints removes delivered hints that did not change since.
func (n *Node) dropHints(hs []hint) {
	for _, h := range hs {
		ok, err := n.store.DeleteHintIf(h.owner, h.token, h.key, h.set)
		if err != nil {
			n.log.Error("handoff: remove hint", "err", err)
			return
		}
		if ok {
			n.met.hintsDelivered.Inc()
		}
	}
}

// rehome hands hints for a node that left the ring to the keys' replicas.
func (n *Node) rehome(ctx context.Context, v *placement.View, hs []hint) {
	var es []entryOf
	for _, h := range hs {
		es = append(es, entryOf{token: h.token, key: h.key, set: h.set})
	}
	handed := n.handTo(ctx, es, func(token uint64) []string { return v.Current.PreferenceListForToken(token, n.cfg.N) })
	for i, ok := range handed {
		if ok {
			n.dropHints(hs[i : i+1])
		}
	}
}

// entryOf is a local entry on its way elsewhere.
type entryOf struct {
	token uint64
	key   []byte
	set   *kvpb.VersionSet
}

// handTo ships each entry to the owners ownersOf names (this node left
// out) and reports, per entry, whether every reachable owner and at least
// one took it.
func (n *Node) handTo(ctx context.Context, es []entryOf, ownersOf func(token uint64) []string) []bool {
	byOwner := map[string][]int{}
	owners := make([][]string, len(es))
	for i, e := range es {
		for _, id := range ownersOf(e.token) {
			if id == n.cfg.ID || !n.coord.live(ctx, id) {
				continue
			}
			owners[i] = append(owners[i], id)
			byOwner[id] = append(byOwner[id], i)
		}
	}
	failed := map[string]int{} // owner → entries it acknowledged
	for id, idx := range byOwner {
		entries := make([]*kvpb.Entry, len(idx))
		for k, i := range idx {
			entries[k] = &kvpb.Entry{Key: es[i].key, Set: es[i].set}
		}
		acked, err := n.mover.push(ctx, id, entries)
		if err != nil {
			n.log.Debug("handoff: push", "to", id, "acked", acked, "of", len(entries), "err", err)
			failed[id] = acked
		}
	}
	ok := make([]bool, len(es))
	for i := range es {
		ok[i] = len(owners[i]) > 0
		for _, id := range owners[i] {
			if acked, bad := failed[id]; bad && slices.Index(byOwner[id], i) >= acked {
				ok[i] = false
			}
		}
	}
	return ok
}

// rebalance hands the data this node no longer owns, in the current ring
// nor in the one it is changing to, to its owners, and removes it here.
func (n *Node) rebalance(ctx context.Context) {
	v := n.ring.View()
	if v.Current.Len() == 0 {
		return
	}
	self := n.cfg.ID
	ranges := ring.Segments([]*ring.Ring{v.Current, v.Target}, n.cfg.N, func(prefs [][]string) bool {
		return !slices.Contains(prefs[0], self) && !slices.Contains(prefs[1], self)
	})
	owners := func(token uint64) []string {
		ids := v.Target.PreferenceListForToken(token, n.cfg.N)
		for _, id := range v.Current.PreferenceListForToken(token, n.cfg.N) {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		return ids
	}
	moved, kept := n.handOff(ctx, ranges, owners, true, "rebalance")
	if moved > 0 || kept > 0 {
		n.log.Info("handoff: rebalanced data this node no longer owns", "moved", moved, "kept", kept)
	}
}

// handOff ships the local entries in ranges to ownersOf, in batches, and
// (drop) removes the ones every reachable owner took. It returns how many
// entries were handed over and how many could not be.
func (n *Node) handOff(ctx context.Context, ranges []ring.Range, ownersOf func(token uint64) []string, drop bool, reason string) (moved, kept int) {
	var batch []entryOf
	flush := func() {
		handed := n.handTo(ctx, batch, ownersOf)
		for i, ok := range handed {
			if !ok {
				kept++
				continue
			}
			moved++
			n.met.transferred.WithLabelValues(reason).Inc()
			if drop {
				if _, err := n.store.DeleteIf(batch[i].token, batch[i].key, batch[i].set); err != nil {
					n.log.Error("handoff: remove handed-over key", "err", err)
				}
			}
		}
		batch = batch[:0]
	}
	for _, rg := range ranges {
		err := n.mover.scanRange(rg, func(token uint64, key []byte, set *kvpb.VersionSet) error {
			batch = append(batch, entryOf{token, key, set})
			if len(batch) >= batchKeys {
				flush()
			}
			return ctx.Err()
		})
		if err != nil {
			if ctx.Err() == nil {
				n.log.Error("handoff: scan", "err", err)
			}
			return moved, kept
		}
	}
	if len(batch) > 0 {
		flush()
	}
	return moved, kept
}
