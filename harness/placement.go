package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/nemesis"
	"github.com/quorumlab/quorumlab/workload"
)

// placement asks the nodes in the client pool where keys live, for the
// partition shapes that aim at keys.
type placement struct {
	admin ringAdmin
	pool  *workload.Pool
}

func (p placement) PreferenceLists(ctx context.Context, keys []string) (map[string][]string, error) {
	clients := map[string]*client.Client{}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	var ids []string
	for _, t := range p.pool.Targets() {
		ids = append(ids, t.Node)
	}
	return preferenceLists(ctx, keys, ids, func(id string) (*client.Client, error) {
		c, err := p.admin.dial(id)
		if err == nil {
			clients[id] = c
		}
		return c, err
	})
}

func (p placement) Hints(ctx context.Context) (map[string]uint64, error) {
	out := map[string]uint64{}
	var errs []error
	for _, t := range p.pool.Targets() {
		c, err := p.admin.dial(t.Node)
		if err == nil {
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			st, serr := c.Status(sctx)
			cancel()
			c.Close()
			if err = serr; err == nil {
				out[t.Node] = st.GetHints()
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.Node, err))
		}
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// validateRingShape refuses a ring-aware partition shape that cannot cut
// anything: it needs kvnode's ring, keys of a register or set workload,
// and enough nodes.
func validateRingShape(cfg Config) error {
	sh := cfg.Nemesis.Shape
	if !slices.Contains(nemesis.RingShapes, sh) || !slices.Contains(cfg.Nemesis.Faults, nemesis.Partition) {
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
