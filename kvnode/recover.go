package kvnode

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/placement"
	"github.com/quorumlab/quorumlab/kvnode/storage"
)

// Recovery from peers (--recover-from-peers). A damaged store is renamed
// to <data dir>.damaged-<unix time>, never deleted, and the node starts on
// an empty one with the same id. Before its replica serves reads it pulls
// every range it owns from the range's other replicas, as a joining node
// does: for each range from at least N-W+1 of them (all of them if fewer),
// so every write that W replicas acknowledged reached one it pulled from.
// A write acknowledged by this node alone (W=1, or a W override) had no
// other copy and cannot come back. Meanwhile it takes replica writes, and
// its own replica counts as down for the requests it coordinates.
//
// vclock counters: the durable reservation went with the store, and a
// counter issued again would make a new write share the dot of an old one
// (and be dropped as its duplicate). The new store's first reservation
// starts at the wall clock in microseconds: every counter issued before is
// below it as long as the node never issued more than one per microsecond
// since its counters began (each counter is a coordinated write) and the
// clock did not step back past an earlier recovery. After the pull the
// reservation is also raised above every counter of this node found in the
// rebuilt ranges.

// openStore opens the node's store, moving a damaged one aside first when
// recovering.
func openStore(cfg Config) (*storage.Store, error) {
	opts := storage.Options{Dir: cfg.DataDir, Sync: cfg.Fsync}
	if !cfg.RecoverFromPeers {
		return storage.Open(opts)
	}
	if cfg.Gossip != nil {
		// A gossip node with an empty store adopts its ring status from its
		// peers and would serve its ranges before pulling them.
		return nil, errors.New("--recover-from-peers needs static membership (--peers without --join)")
	}
	ents, err := os.ReadDir(cfg.DataDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("recover: %w", err)
	}
	if len(ents) == 0 {
		return storage.Open(opts)
	}
	st, err := storage.Open(opts)
	if err != nil {
		return nil, err
	}
	damage := st.Damage()
	if damage == nil {
		cfg.Logger.Warn("recover: the store is not damaged; kept, and brought up to date from the replicas before serving", "data_dir", cfg.DataDir)
		return st, nil
	}
	if err := st.Close(); err != nil {
		return nil, fmt.Errorf("recover: close the damaged store: %w", err)
	}
	aside, err := moveAside(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	cfg.Logger.Warn("recover: moved the damaged store aside; rebuilding from the replicas", "data_dir", cfg.DataDir,
		"moved_to", aside, "damage", damage.Error())
	return storage.Open(opts)
}

// moveAside renames dir to dir.damaged-<unix time> and syncs the parent.
func moveAside(dir string) (string, error) {
	dir = filepath.Clean(dir)
	base := fmt.Sprintf("%s.damaged-%d", dir, time.Now().Unix())
	aside := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, os.ErrNotExist) {
			break
		}
		aside = fmt.Sprintf("%s.%d", base, i)
	}
	if err := os.Rename(dir, aside); err != nil {
		return "", fmt.Errorf("recover: move the damaged store aside: %w", err)
	}
	d, err := os.Open(filepath.Dir(dir))
	if err != nil {
		return "", fmt.Errorf("recover: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return "", fmt.Errorf("recover: sync %s: %w", filepath.Dir(dir), err)
	}
	return aside, nil
}

// prepareRecovery marks the replica recovering and reserves counters
// from the wall-clock floor before anything can issue one.
func (n *Node) prepareRecovery() error {
	n.replica.recovering.Store(true)
	if err := n.counters.raise(uint64(time.Now().UnixMicro())); err != nil {
		return fmt.Errorf("recover: reserve counters: %w", err)
	}
	return nil
}

// recoverRanges pulls this node's ranges from their other replicas until
// every range is covered, then lets the replica serve.
func (n *Node) recoverRanges(ctx context.Context) {
	start := time.Now()
	pulled := map[string]bool{}
	total := 0
	lastWarn := time.Time{}
	for {
		v := n.ring.View()
		total += n.pullFromLive(ctx, v, v.Current.Ranges(n.cfg.ID, n.cfg.N), pulled, "recover")
		if placement.Rebuilt(v, n.cfg.ID, n.cfg.N, n.cfg.W, pulled) {
			break
		}
		if time.Since(lastWarn) > 10*time.Second {
			lastWarn = time.Now()
			n.log.Warn("recover: waiting for more replicas of this node's ranges to pull from", "pulled_from", slices.Sorted(maps.Keys(pulled)))
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return
		}
	}
	if err := n.raiseCounters(); err != nil {
		n.log.Error("recover: raising the vclock counters failed; the replica stays out of service", "err", err)
		return
	}
	n.replica.recovering.Store(false)
	n.log.Info("recover: rebuilt this node's ranges from their replicas; serving", "pulled_keys", total,
		"from", slices.Sorted(maps.Keys(pulled)), "took", time.Since(start).Round(time.Millisecond))
}

// raiseCounters reserves counters above every counter of this node in the
// rebuilt data: its dots, clock entries and stand-in actors (<id>~<n>).
func (n *Node) raiseCounters() error {
	self, standIn := n.cfg.ID, n.cfg.ID+"~"
	var top uint64
	err := n.store.Scan(0, math.MaxUint64, func(_ uint64, _ []byte, set *kvpb.VersionSet) error {
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
	return n.counters.raise(top + 1)
}
