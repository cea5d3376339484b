package harness

import (
	"context"
	"slices"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/internal/sysmem"
	"github.com/quorumlab/quorumlab/nemesis"
	"github.com/quorumlab/quorumlab/results"
)

// DefaultCheckMemory is checker.DefaultMemoryBudget of this machine, or
// 2 GiB if its memory cannot be read.
func DefaultCheckMemory() int64 {
	total, err := sysmem.Total()
	if err != nil {
		return 2 << 30
	}
	return checker.DefaultMemoryBudget(total)
}

// Check checks a stored history and writes its results into dir.
func Check(ctx context.Context, hist, dir string, opts checker.Options) (checker.Results, error) {
	return check(ctx, hist, dir, opts, nil)
}

// check is Check with warnings of the run's own (a failed heal, say) to
// store beside the checkers'.
func check(ctx context.Context, hist, dir string, opts checker.Options, runWarnings []string) (checker.Results, error) {
	ops, warnings, err := history.ReadFile(hist)
	if err != nil {
		return checker.Results{}, err
	}
	opts.Visualize = true
	res := checker.Check(ctx, ops, opts)
	res.Warnings = slices.Concat(runWarnings, warnings, res.Warnings)
	if err := predictStaleness(dir, res); err != nil {
		res.Warnings = append(res.Warnings, "no staleness prediction: "+err.Error())
	}
	if err := results.Write(dir, res); err != nil {
		return res, err
	}
	return res, results.WriteReport(dir, ops, res)
}

// runModel is what the run's configuration promises beyond the checkers'
// defaults: lww with one writer per key promises no more than the
// single-writer register; strict quorums, with tombstones kept for the
// whole run, make deletes final.
func runModel(cfg Config) history.Model {
	var m history.Model
	if singleWriter(cfg) {
		m.Register = history.ModelSingleWriter
	}
	c := cfg.Cluster
	clocks := slices.Contains(cfg.Nemesis.Faults, nemesis.Clock) || slices.Contains(cfg.Nemesis.Faults, nemesis.Strobe)
	// A tombstone collected within the run lets a replica that missed the
	// delete bring the element back: kvnode's documented price of a short
	// grace, not a broken promise.
	span := cfg.Workload.TimeLimit + cfg.Recovery + cfg.ConvergenceWait
	kept := c.Mode == "linearizable" || c.TombstoneGrace == 0 || c.TombstoneGrace > span
	if cfg.Workload.DeleteRatio > 0 && (c.Etcd() || (c.R+c.W > c.N && !c.Sloppy && !(c.Mode == "lww" && clocks) && kept)) {
		m.Set = history.ModelDeletesFinal
	}
	return m
}
