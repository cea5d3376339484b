package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	tcexec "github.com/testcontainers/testcontainers-go/exec"

	"github.com/quorumlab/quorumlab/cluster"
)

// healArgs are the netfault arguments for a namespace without rules.
func healArgs() []string { return []string{"heal"} }

// faults is the network fault state every container's rules derive from.
type faults struct {
	change sync.Mutex // serializes Partition, Loss and HealNetwork

	mu       sync.Mutex // guards the fields below; taken last, held briefly
	grudge   cluster.Grudge
	lossIDs  []string
	lossRate float64
}

// NetworkError says why network faults are unavailable, or is nil.
func (c *Cluster) NetworkError() error { return c.netErr }

// Partition drops packets per the grudge, replacing any earlier partition;
// packet loss rules stay.
func (c *Cluster) Partition(ctx context.Context, g cluster.Grudge) error {
	if err := c.netCheck(ctx); err != nil {
		return err
	}
	own := cluster.Grudge{}
	for dst, srcs := range g {
		for _, id := range append([]string{dst}, srcs...) {
			if _, err := c.nodes.Get(id); err != nil {
				return fmt.Errorf("partition: %w", err)
			}
		}
		own[dst] = slices.Clone(srcs)
	}
	if err := c.update(ctx, func(f *faults) { f.grudge = own }); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	c.log.Info("network partitioned", "grudge", g)
	return nil
}

// Loss drops a share p of the packets between every pair of ids, replacing
// any earlier loss rules; partition rules stay.
func (c *Cluster) Loss(ctx context.Context, ids []string, p float64) error {
	if err := c.netCheck(ctx); err != nil {
		return err
	}
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("packet loss %v is not between 0 and 1", p)
	}
	for _, id := range ids {
		if _, err := c.nodes.Get(id); err != nil {
			return fmt.Errorf("packet loss: %w", err)
		}
	}
	ids = slices.Clone(ids)
	if err := c.update(ctx, func(f *faults) { f.lossIDs, f.lossRate = ids, p }); err != nil {
		return fmt.Errorf("packet loss: %w", err)
	}
	c.log.Info("packet loss", "nodes", ids, "p", p)
	return nil
}

// HealNetwork removes every partition and loss rule.
func (c *Cluster) HealNetwork(ctx context.Context) error {
	if err := c.netCheck(ctx); err != nil {
		return err
	}
	if err := c.update(ctx, func(f *faults) { f.grudge, f.lossIDs, f.lossRate = nil, nil, 0 }); err != nil {
		return fmt.Errorf("heal network: %w", err)
	}
	c.log.Info("network healed")
	return nil
}

func (c *Cluster) netCheck(ctx context.Context) error {
	if c.netErr != nil {
		return c.netErr
	}
	return ctx.Err()
}

// update changes the fault state and applies it in every container at once.
// The state changes even if some container fails to apply it, so that a
// node that is restarted gets what the others have.
func (c *Cluster) update(ctx context.Context, change func(*faults)) error {
	c.faults.change.Lock()
	defer c.faults.change.Unlock()
	c.faults.mu.Lock()
	change(&c.faults)
	c.faults.mu.Unlock()

	nodes := c.nodes.All()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			errs[i] = c.applyRules(ctx, n)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// applyRules gives a running node's namespace the rules the fault state
// says it should have, unless it has them. A stopped or paused node cannot
// take them (it cannot exec): it gets them once it starts or resumes. The
// caller holds n.mu.
func (c *Cluster) applyRules(ctx context.Context, n *node) error {
	st, err := n.ctr.State(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", n.info.ID, err)
	}
	if !st.Running || st.Paused {
		return nil
	}
	args := c.netfaultArgs(n.info.ID)
	if slices.Equal(args, n.rules) {
		return nil
	}
	n.rules = nil // unknown until the exec succeeds
	if err := c.netfault(ctx, n, args); err != nil {
		return err
	}
	n.rules = args
	return nil
}

// netfault runs `netfault args…` in n's container.
func (c *Cluster) netfault(ctx context.Context, n *node, args []string) error {
	cmd := append([]string{netfaultPath}, args...)
	code, out, err := n.ctr.Exec(ctx, cmd, tcexec.Multiplexed())
	if err != nil {
		return fmt.Errorf("%s: %s: %w", n.info.ID, strings.Join(cmd, " "), err)
	}
	if code != 0 {
		msg, _ := io.ReadAll(out)
		return fmt.Errorf("%s: %s: exit code %d: %s", n.info.ID, strings.Join(cmd, " "), code, strings.TrimSpace(string(msg)))
	}
	return nil
}

// netfaultArgs are the netfault arguments that give node id its
// rules: it drops what it receives from the nodes it has a grudge against,
// and, if it is among the lossy nodes, a share of what the others send.
func (c *Cluster) netfaultArgs(id string) []string {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	var from, lossFrom []string
	for _, src := range c.faults.grudge[id] {
		if n, _ := c.nodes.Get(src); n != nil && src != id {
			from = append(from, n.info.IP)
		}
	}
	if c.faults.lossRate > 0 && slices.Contains(c.faults.lossIDs, id) {
		for _, src := range c.faults.lossIDs {
			if n, _ := c.nodes.Get(src); n != nil && src != id {
				lossFrom = append(lossFrom, n.info.IP)
			}
		}
	}
	slices.Sort(from)
	from = slices.Compact(from)
	slices.Sort(lossFrom)
	lossFrom = slices.Compact(lossFrom)
	if len(from) == 0 && len(lossFrom) == 0 {
		return healArgs()
	}
	args := []string{"drop"}
	if len(from) > 0 {
		args = append(args, "--from", strings.Join(from, ","))
	}
	if len(lossFrom) > 0 {
		args = append(args, "--loss-from", strings.Join(lossFrom, ","),
			"--loss", strconv.FormatFloat(c.faults.lossRate, 'g', -1, 64))
	}
	return args
}

// probeNetfault checks that every container can change its rules (the
// kernel has nftables, the image has netfault) by removing them.
func (c *Cluster) probeNetfault(ctx context.Context) error {
	nodes := c.nodes.All()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			if errs[i] = c.netfault(ctx, n, healArgs()); errs[i] == nil {
				n.rules = healArgs()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("network faults need nftables in the containers: %w", err)
	}
	return nil
}
