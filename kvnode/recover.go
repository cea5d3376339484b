package kvnode

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

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
