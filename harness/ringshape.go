package harness

import (
	"fmt"
	"slices"

	"github.com/quorumlab/quorumlab/nemesis"
)

// validateRingShape refuses a ring-aware partition shape that cannot cut
// anything: it needs kvnode's ring, keys of a register or set workload,
// and enough nodes.
func validateRingShape(cfg Config) error {
	sh := cfg.Nemesis.Shape
	if !slices.Contains(nemesis.RingShapes(), sh) || !slices.Contains(cfg.Nemesis.Faults, nemesis.Partition) {
		return nil
	}
	c := cfg.Cluster
	switch {
	case c.Etcd():
		return fmt.Errorf("--partition-shape %s aims at kvnode's preference lists; etcd has none", sh)
	case len(convergeKeys(cfg.Workload)) == 0:
		return fmt.Errorf("--partition-shape %s aims at the workload's keys: use the register or set workload", sh)
	case (sh == nemesis.HomeReplicas || sh == nemesis.HintHolder) && c.Nodes <= c.N:
		return fmt.Errorf("--partition-shape %s on %d nodes with N=%d: every node is a home replica, so nothing is left to cut them from", sh, c.Nodes, c.N)
	case sh == nemesis.KeyPrimary && c.Nodes < 2:
		return fmt.Errorf("--partition-shape %s needs two nodes", sh)
	case sh == nemesis.PrefMinority && c.N < 3:
		return fmt.Errorf("--partition-shape %s with N=%d: a minority of a preference list needs N ≥ 3", sh, c.N)
	}
	return nil
}
