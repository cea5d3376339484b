package kvnode

import (
	"context"
	"errors"
	"time"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

// Tombstone collection: a deleted key keeps its tombstone for the grace
// period, so that replicas that missed the delete learn of it, and is then
// removed from storage. Each node collects on its own; all judge a
// tombstone's age by the time its write carries, and anti-entropy and
// transfers treat an expired tombstone as collected already, so a node
// that has collected and one that has not yet agree.

// tombstonesPerSweep bounds the keys one sweep holds in memory.
const tombstonesPerSweep = 10000

var errSweepFull = errors.New("sweep full")

// tombstoneSweepInterval sweeps a few times per grace period, at most
// hourly and at least every 100 ms.
func tombstoneSweepInterval(grace time.Duration) time.Duration {
	return min(max(grace/4, 100*time.Millisecond), time.Hour)
}

// expired reports whether every version of a key is a tombstone written
// before cutoff (ns since the epoch; 0 keeps all). A version whose write
// time is unknown is kept.
func expired(mode Mode, vs []*kvpb.Version, cutoff int64) bool {
	if mode == ModeLinearizable || len(vs) == 0 {
		return false
	}
	for _, v := range vs {
		t := v.GetTimestamp()
		if mode == ModeVClock {
			t = v.GetDot().GetTime()
		}
		if !v.GetTombstone() || t == 0 || t >= cutoff {
			return false
		}
	}
	return true
}

// tombstoneCutoff is the write time (ns since the epoch) before which
// tombstones have expired, or 0 when they are kept.
func (n *Node) tombstoneCutoff() int64 {
	if n.cfg.TombstoneGrace <= 0 {
		return 0
	}
	return time.Now().Add(-n.cfg.TombstoneGrace).UnixNano()
}

// collectTombstones removes the keys whose tombstones outlived the grace
// period. A key written meanwhile is kept: the delete applies only to the
// version set that was found expired.
func (n *Node) collectTombstones(ctx context.Context) {
	cutoff := n.tombstoneCutoff()
	type dead struct {
		token uint64
		key   []byte
		set   *kvpb.VersionSet
	}
	var found []dead
	err := n.store.Scan(0, ^uint64(0), func(token uint64, key []byte, set *kvpb.VersionSet) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if expired(n.cfg.Mode, set.GetVersions(), cutoff) {
			found = append(found, dead{token, key, set})
			if len(found) == tombstonesPerSweep {
				return errSweepFull
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errSweepFull) {
		if ctx.Err() == nil {
			n.log.Warn("tombstones: scan failed", "err", err)
		}
		return
	}
	collected := 0
	for _, d := range found {
		ok, err := n.store.DeleteIf(d.token, d.key, d.set)
		if err != nil {
			n.log.Warn("tombstones: delete failed", "key", string(d.key), "err", err)
			return
		}
		if ok {
			collected++
		}
	}
	n.met.tombstonesGC.Add(float64(collected))
	if collected > 0 {
		n.log.Debug("tombstones: collected", "keys", collected)
	}
}
