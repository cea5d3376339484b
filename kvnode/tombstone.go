package kvnode

import (
	"context"
	"errors"
	"time"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

// Tombstone collection: a deleted key keeps its tombstone for the grace
// period, so that replicas that missed the delete learn of it, and is then
// removed from storage. Each node collects on its own; all judge a
// tombstone's age by the time its write carries, and anti-entropy's trees
// leave expired tombstones out, so a node that has collected and one that
// has not yet agree. Transfers still ship them: a replica that missed the
// delete takes it while a peer holds it.

// tombstonesPerSweep bounds the keys a sweep holds in memory at a time.
const tombstonesPerSweep = 10000

var errSweepFull = errors.New("sweep full")

// tombstoneSweepInterval sweeps a few times per grace period, at most
// hourly and at least every 100 ms.
func tombstoneSweepInterval(grace time.Duration) time.Duration {
	return min(max(grace/4, 100*time.Millisecond), time.Hour)
}

// tombstoneCutoff is the write time (ns since the epoch) before which
// tombstones have expired, or 0 when they are kept.
func (c Config) tombstoneCutoff() int64 {
	if c.TombstoneGrace <= 0 {
		return 0
	}
	return time.Now().Add(-c.TombstoneGrace).UnixNano()
}

// collectTombstones removes the keys whose tombstones outlived the grace
// period.
func (u *upkeep) collectTombstones(ctx context.Context) {
	u.sweepTombstones(ctx, tombstonesPerSweep)
}

// sweepTombstones scans the whole store, batch expired keys at a time. A
// key written meanwhile is kept: the delete applies only to the version set
// that was found expired.
func (u *upkeep) sweepTombstones(ctx context.Context, batch int) {
	cutoff := u.cfg.tombstoneCutoff()
	type dead struct {
		token uint64
		key   []byte
		set   *kvpb.VersionSet
	}
	collected := 0
	defer func() {
		u.met.tombstonesGC.Add(float64(collected))
		if collected > 0 {
			u.log.Debug("tombstones: collected", "keys", collected)
		}
	}()
	for from := uint64(0); ; {
		var found []dead
		err := u.store.Scan(from, ^uint64(0), func(token uint64, key []byte, set *kvpb.VersionSet) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if version.Expired(u.cfg.Mode, set.GetVersions(), cutoff) {
				found = append(found, dead{token, key, set})
				if len(found) == batch {
					return errSweepFull
				}
			}
			return nil
		})
		full := errors.Is(err, errSweepFull)
		if err != nil && !full {
			if ctx.Err() == nil {
				u.log.Warn("tombstones: scan failed", "err", err)
			}
			return
		}
		for _, d := range found {
			ok, err := u.store.DeleteIf(d.token, d.key, d.set)
			if err != nil {
				u.log.Warn("tombstones: delete failed", "key", string(d.key), "err", err)
				return
			}
			if ok {
				collected++
			}
		}
		if !full {
			return
		}
		// Go on after the last token seen (keys sharing it, a 64-bit hash
		// collision, wait for the next sweep).
		last := found[len(found)-1].token
		if last == ^uint64(0) {
			return
		}
		from = last + 1
	}
}
