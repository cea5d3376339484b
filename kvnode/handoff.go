package kvnode

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/peer"
	"github.com/quorumlab/quorumlab/kvnode/placement"
	"github.com/quorumlab/quorumlab/kvnode/ring"
	"github.com/quorumlab/quorumlab/kvnode/storage"
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

// upkeep is the node's background care of its data: hinted handoff,
// moving ranges after ring changes, anti-entropy and tombstone
// collection. It works through the ring, the coordinator's liveness and the
// mover, and knows nothing of the node.
type upkeep struct {
	cfg   Config
	log   *slog.Logger
	met   *metrics
	ring  *ringManager
	peers *peer.Set
	coord *coordinator
	mover *mover
	store *storage.Store
	// bg and stop are the node's: loops end, and are waited for, at Close.
	bg   *sync.WaitGroup
	stop context.Context
}

// hintsPerRound bounds the hints collected per owner in one round.
const hintsPerRound = 4096

// every runs f every interval until the node stops.
func (u *upkeep) every(interval time.Duration, f func(ctx context.Context)) {
	u.bg.Add(1)
	go func() {
		defer u.bg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-u.stop.Done():
				return
			case <-t.C:
			}
			if u.store.Damage() != nil {
				continue // nothing here may touch a damaged store
			}
			f(u.stop)
		}
	}()
}

type hint struct {
	owner string
	token uint64
	key   []byte
	set   *kvpb.VersionSet
}

// deliverHints hands every hint whose home replica is reachable to it. A
// hint for a node that left the ring goes to the key's current replicas.
func (u *upkeep) deliverHints(ctx context.Context) {
	byOwner := map[string][]hint{}
	var total int
	err := u.store.ScanHints(func(owner string, token uint64, key []byte, set *kvpb.VersionSet) error {
		total++
		if len(byOwner[owner]) < hintsPerRound {
			byOwner[owner] = append(byOwner[owner], hint{owner, token, key, set})
		}
		return nil
	})
	u.met.hintsPending.Set(float64(total))
	if err != nil {
		u.log.Error("handoff: scan hints", "err", err)
		return
	}
	v := u.ring.View()
	for owner, hs := range byOwner {
		if ctx.Err() != nil {
			return
		}
		if st := v.Status(owner); st == kvpb.StatusLeft || st == kvpb.StatusNone {
			u.rehome(ctx, v, hs)
			continue
		}
		if !u.coord.live(ctx, owner) {
			continue
		}
		entries := make([]*kvpb.Entry, len(hs))
		for i, h := range hs {
			entries[i] = &kvpb.Entry{Key: h.key, Set: h.set}
		}
		acked, err := u.mover.push(ctx, owner, entries)
		u.dropHints(hs[:acked])
		if err != nil {
			u.log.Debug("handoff: deliver hints", "owner", owner, "delivered", acked, "err", err)
		} else if acked > 0 {
			u.log.Info("handoff: delivered hints", "owner", owner, "keys", acked)
		}
	}
}

// dropHints removes delivered hints that did not change since.
func (u *upkeep) dropHints(hs []hint) {
	for _, h := range hs {
		ok, err := u.store.DeleteHintIf(h.owner, h.token, h.key, h.set)
		if err != nil {
			u.log.Error("handoff: remove hint", "err", err)
			return
		}
		if ok {
			u.met.hintsDelivered.Inc()
		}
	}
}

// rehome hands hints for a node that left the ring to the keys' replicas.
func (u *upkeep) rehome(ctx context.Context, v *placement.View, hs []hint) {
	var es []entryOf
	for _, h := range hs {
		es = append(es, entryOf{token: h.token, key: h.key, set: h.set})
	}
	handed := u.handTo(ctx, es, func(token uint64) []string { return v.Current.PreferenceListForToken(token, u.cfg.N) })
	for i, ok := range handed {
		if ok {
			u.dropHints(hs[i : i+1])
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
func (u *upkeep) handTo(ctx context.Context, es []entryOf, ownersOf func(token uint64) []string) []bool {
	byOwner := map[string][]int{}
	owners := make([][]string, len(es))
	for i, e := range es {
		for _, id := range ownersOf(e.token) {
			if id == u.cfg.ID || !u.coord.live(ctx, id) {
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
		acked, err := u.mover.push(ctx, id, entries)
		if err != nil {
			u.log.Debug("handoff: push", "to", id, "acked", acked, "of", len(entries), "err", err)
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
func (u *upkeep) rebalance(ctx context.Context) {
	v := u.ring.View()
	if v.Current.Len() == 0 {
		return
	}
	self := u.cfg.ID
	ranges := ring.Segments([]*ring.Ring{v.Current, v.Target}, u.cfg.N, func(prefs [][]string) bool {
		return !slices.Contains(prefs[0], self) && !slices.Contains(prefs[1], self)
	})
	owners := func(token uint64) []string {
		ids := v.Target.PreferenceListForToken(token, u.cfg.N)
		for _, id := range v.Current.PreferenceListForToken(token, u.cfg.N) {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		return ids
	}
	moved, kept := u.handOff(ctx, ranges, owners, true, "rebalance")
	if moved > 0 || kept > 0 {
		u.log.Info("handoff: rebalanced data this node no longer owns", "moved", moved, "kept", kept)
	}
}

// handOff ships the local entries in ranges to ownersOf, in batches, and
// (drop) removes the ones every reachable owner took. It returns how many
// entries were handed over and how many could not be.
func (u *upkeep) handOff(ctx context.Context, ranges []ring.Range, ownersOf func(token uint64) []string, drop bool, reason string) (moved, kept int) {
	var batch []entryOf
	flush := func() {
		handed := u.handTo(ctx, batch, ownersOf)
		for i, ok := range handed {
			if !ok {
				kept++
				continue
			}
			moved++
			u.met.transferred.WithLabelValues(reason).Inc()
			if drop {
				if _, err := u.store.DeleteIf(batch[i].token, batch[i].key, batch[i].set); err != nil {
					u.log.Error("handoff: remove handed-over key", "err", err)
				}
			}
		}
		batch = batch[:0]
	}
	for _, rg := range ranges {
		err := u.mover.scanRange(rg, func(token uint64, key []byte, set *kvpb.VersionSet) error {
			batch = append(batch, entryOf{token, key, set})
			if len(batch) >= batchKeys {
				flush()
			}
			return ctx.Err()
		})
		if err != nil {
			if ctx.Err() == nil {
				u.log.Error("handoff: scan", "err", err)
			}
			return moved, kept
		}
	}
	if len(batch) > 0 {
		flush()
	}
	return moved, kept
}
