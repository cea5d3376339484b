package workload

import (
	"context"
	"fmt"

	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/target"
)

// coldProcess numbers the cold-key operations' processes, above every
// worker's and the final reads': each operation has its own, so that an
// indeterminate one never shares a process with the next.
const coldProcess = 1 << 24

// Cold writes fresh keys once each and reads them back after a ring
// change, through each target in turn: a range that a join, decommission
// or replacement failed to move shows up as a lost write before
// anti-entropy or read repair could hide it. Register workloads write
// registers, set workloads add one element to a fresh set.
type Cold struct {
	cfg     Config
	rec     *history.Recorder
	count   int
	next    int // operations so far, for process ids
	written []string
}

// NewCold makes the cold keys of cfg's workload, count per round.
func NewCold(cfg Config, rec *history.Recorder, count int) (*Cold, error) {
	if cfg.Name != Register && cfg.Name != Set {
		return nil, fmt.Errorf("cold keys: for the register and set workloads, not %s", cfg.Name)
	}
	return &Cold{cfg: cfg, rec: rec, count: count}, nil
}

// Write writes round's keys once each, spread over targets, and returns
// them. Not safe for concurrent use.
func (c *Cold) Write(ctx context.Context, round int, targets []Target) []string {
	prefix := map[string]string{Register: "r", Set: "s"}[c.cfg.Name]
	f, run := history.FWrite, registerOp
	if c.cfg.Name == Set {
		f, run = history.FAdd, setOp
	}
	var keys []string
	for i := range c.count {
		if ctx.Err() != nil || len(targets) == 0 {
			break
		}
		key := fmt.Sprintf("%s-cold%d-%d", prefix, round, i)
		c.next++
		_, _ = invoke(ctx, c.rec, c.cfg, targets[i%len(targets)], coldProcess+c.next, op{f: f, key: key, value: int64(i + 1)}, 0, run)
		keys = append(keys, key)
	}
	c.written = append(c.written, keys...)
	return keys
}

// Read reads keys once each, spread over targets, starting one target on
// from where Write began, so that a key is read through another
// coordinator than wrote it where there are two.
func (c *Cold) Read(ctx context.Context, keys []string, targets []Target) {
	run := registerOp
	if c.cfg.Name == Set {
		run = readSet
	}
	for i, key := range keys {
		if ctx.Err() != nil || len(targets) == 0 {
			return
		}
		c.next++
		_, _ = invoke(ctx, c.rec, c.cfg, targets[(i+1)%len(targets)], coldProcess+c.next, op{f: history.FRead, key: key}, 0, run)
	}
}

// Written are every round's keys so far: a set workload reads them again
// with its final reads, so that every acknowledged add is judged.
func (c *Cold) Written() []string { return c.written }

// readSet reads a set key.
func readSet(ctx context.Context, cl target.Client, o op) (history.Type, []int64, error) {
	res, err := cl.Get(ctx, o.key)
	if err != nil {
		return history.Fail, nil, err
	}
	elems, err := parseSet(res.Values)
	if err != nil {
		return history.Fail, nil, err
	}
	return history.OK, elems, nil
}
