package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/admin"
	"github.com/quorumlab/quorumlab/target"
	"github.com/quorumlab/quorumlab/workload"
)

// errStillMember: a retirement failed before the node left the ring.
var errStillMember = errors.New("still a ring member")

// nodeChanger adds nodes to a running cluster and retires them, keeping
// the client pool in step: the autoscaler's actuator and the replace fault
// both use it.
type nodeChanger struct {
	cl    cluster.Cluster
	admin *admin.Admin
	pool  *workload.Pool
	opts  target.Options

	mu sync.Mutex
	// removed are the clients of retired nodes: requests picked just
	// before may still use them, so they are closed after the workload.
	removed []workload.Target
}

// Add starts a node, which joins the ring by itself, and puts it in the
// pool.
func (c *nodeChanger) Add(ctx context.Context) (string, error) {
	adder, ok := c.cl.(cluster.NodeAdder)
	if !ok {
		return "", errors.New("this backend cannot add nodes")
	}
	n, err := adder.AddNode(ctx)
	if err != nil {
		return "", err
	}
	cl, err := target.Dial(target.KVNode, n.Addr, c.opts)
	if err != nil {
		return n.ID, fmt.Errorf("dial %s: %w", n.ID, err)
	}
	c.pool.Add(workload.Target{Node: n.ID, Client: cl})
	return n.ID, nil
}

// Retire takes a node out of the pool, decommissions it, waits until its
// peers see it gone and stops it. An error wrapping errStillMember means
// it is back in the pool, still serving.
func (c *nodeChanger) Retire(ctx context.Context, id string) error {
	t, inPool := c.pool.Remove(id)
	if err := c.admin.Decommission(ctx, id); err != nil {
		if inPool {
			c.pool.Add(t)
		}
		return fmt.Errorf("decommission %s: %w: %w", id, errStillMember, err)
	}
	if inPool {
		c.mu.Lock()
		c.removed = append(c.removed, t)
		c.mu.Unlock()
	}
	// Stopped before its peers saw it leave, it would stay "leaving" in
	// their view for good and hold every later change.
	if err := c.admin.WaitLeft(ctx, id, func() []string { return nodeIDs(c.pool.Targets()) }); err != nil {
		return err
	}
	return c.cl.Stop(context.WithoutCancel(ctx), id)
}

// close closes the clients of retired nodes.
func (c *nodeChanger) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.removed {
		t.Client.Close()
	}
	c.removed = nil
}
