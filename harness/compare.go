package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/cluster/launch"
	"github.com/quorumlab/quorumlab/kvnode/quorum"
	"github.com/quorumlab/quorumlab/results"
	"github.com/quorumlab/quorumlab/target"
)

// Quorum is one N/W/R setting of a comparison.
type Quorum struct{ N, W, R int }

// ParseQuorums parses a list such as "3/1/1,3/2/2".
func ParseQuorums(s string) ([]Quorum, error) {
	var out []Quorum
	for _, item := range strings.Split(s, ",") {
		parts := strings.Split(strings.TrimSpace(item), "/")
		if len(parts) != 3 {
			return nil, fmt.Errorf("configuration %q: want N/W/R, e.g. 3/2/2", item)
		}
		var v [3]int
		for i, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("configuration %q: %q is not a positive integer", item, p)
			}
			v[i] = n
		}
		out = append(out, Quorum{v[0], v[1], v[2]})
	}
	return out, nil
}

// CompareConfig is a comparison: Base runs once per combination of Quorums,
// Modes and Sloppy, each on a fresh cluster, one after the other, with the
// same seed and workload.
type CompareConfig struct {
	Base Config
	// Targets are the stores compared (none: kvnode). Quorums, Modes and
	// Sloppy are kvnode's; every other target runs once.
	Targets []string
	Quorums []Quorum
	Modes   []string
	Sloppy  []bool
	// Progress receives a line as each configuration starts and ends (nil:
	// none); Base.Progress receives each run's own progress.
	Progress io.Writer
}

// Compare runs the comparison and writes compare.json, compare.md and
// compare.html into a new store/compare/<timestamp>/ (after every run, so
// an interrupted comparison keeps what it measured). Each run is stored as
// a normal run. A configuration the harness fails on gets a row with the
// error and the others still run; the error returned then says which
// failed. Verdicts are data here, not errors.
func Compare(ctx context.Context, cc CompareConfig, log *slog.Logger) (dir string, cmp results.Comparison, err error) {
	plan, skipped, err := planComparison(ctx, cc)
	if err != nil {
		return "", cmp, err
	}
	progress := cc.Progress
	if progress == nil {
		progress = io.Discard
	}
	for _, s := range skipped {
		fmt.Fprintf(progress, "skipping %s\n", s)
	}
	if len(plan) == 0 {
		return "", cmp, errors.New("no configuration to run: every combination was skipped")
	}
	dir, err = results.NewCompareDir(cc.Base.Store, time.Now())
	if err != nil {
		return "", cmp, err
	}
	cmp = results.Comparison{
		Started:  time.Now().UTC(),
		Workload: describeWorkload(cc.Base),
		Nemesis:  describeNemesis(cc.Base),
		Skipped:  skipped,
	}
	var failed []string
	last := ""
	for i, cfg := range plan {
		row := compareRow(cfg)
		fmt.Fprintf(progress, "[%d/%d] %s: running for %s%s\n", i+1, len(plan), row.Label(), cfg.Workload.TimeLimit, last)
		out, rerr := Run(ctx, cfg, log)
		if out.Dir != "" {
			if rel, err := filepath.Rel(dir, out.Dir); err == nil {
				row.Run = filepath.ToSlash(rel)
			}
		}
		switch {
		case rerr != nil:
			row.Error = rerr.Error()
			failed = append(failed, row.Label())
			log.Error("configuration failed", "config", row.Label(), "err", rerr)
			fmt.Fprintf(progress, "[%d/%d] %s: harness failed: %v\n", i+1, len(plan), row.Label(), rerr)
		case out.Interrupted:
			row.Error = "interrupted"
			row.Fill(out.Results)
		default:
			row.Fill(out.Results)
			if p, err := results.ReadPrediction(out.Dir); err == nil {
				row.FillPrediction(p)
			}
			fmt.Fprintf(progress, "[%d/%d] %s: %s\n", i+1, len(plan), row.Label(), summarize(row))
			last = fmt.Sprintf(" (last: %s %s)", row.Label(), strings.ToUpper(string(row.Verdict)))
		}
		cmp.Rows = append(cmp.Rows, row)
		if err := results.WriteComparison(dir, cmp); err != nil {
			return dir, cmp, err
		}
		if ctx.Err() != nil {
			return dir, cmp, fmt.Errorf("interrupted after %d of %d configurations: %w", i+1, len(plan), ctx.Err())
		}
	}
	fmt.Fprintf(progress, "comparison stored in %s\n", dir)
	if len(failed) > 0 {
		return dir, cmp, fmt.Errorf("the harness failed on %s", strings.Join(failed, ", "))
	}
	return dir, cmp, nil
}

// planComparison lists the runs of a comparison, in the order of the
// targets, and the combinations it skips with the reason. Settings that no
// run could use are an error.
func planComparison(ctx context.Context, cc CompareConfig) (plan []Config, skipped []string, err error) {
	targets := cc.Targets
	if len(targets) == 0 {
		targets = []string{target.KVNode}
	}
	for _, t := range targets {
		if _, err := target.FeaturesOf(t); err != nil {
			return nil, nil, err
		}
		if t != target.KVNode {
			cfg := cc.Base
			cfg.Cluster.Target = t
			if err := Validate(cfg); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", t, err)
			}
			plan = append(plan, cfg)
			continue
		}
		p, s, err := planKVNode(ctx, cc)
		if err != nil {
			return nil, nil, err
		}
		plan, skipped = append(plan, p...), append(skipped, s...)
	}
	return plan, skipped, nil
}

// planKVNode lists the kvnode runs: every combination of quorums, modes
// and sloppiness, but linearizable ones whose quorums do not overlap.
func planKVNode(ctx context.Context, cc CompareConfig) (plan []Config, skipped []string, err error) {
	if len(cc.Quorums) == 0 || len(cc.Modes) == 0 {
		return nil, nil, errors.New("compare needs at least one configuration and one mode")
	}
	sloppy := cc.Sloppy
	if len(sloppy) == 0 {
		sloppy = []bool{false}
	}
	var sloppyErr error
	for _, s := range sloppy {
		if s {
			sloppyErr = sloppySupported(ctx, cc.Base.Cluster.KVNodeBin)
		}
	}
	base := cc.Base
	base.Cluster.Target = target.KVNode
	// etcd's settings, when both are compared: kvnode has no cas.
	base.EtcdSerializable, base.Workload.CASRatio = false, 0
	for _, q := range cc.Quorums {
		for _, mode := range cc.Modes {
			for _, s := range sloppy {
				cfg := base
				cfg.Cluster.N, cfg.Cluster.W, cfg.Cluster.R, cfg.Cluster.Mode, cfg.Cluster.Sloppy = q.N, q.W, q.R, mode, s
				row := compareRow(cfg)
				switch {
				case quorum.Overlap(q.N, q.W, q.R, mode == "linearizable") != nil:
					skipped = append(skipped, fmt.Sprintf("%s: %v", row.Label(), quorum.Overlap(q.N, q.W, q.R, true)))
					continue
				case s && sloppyErr != nil:
					skipped = append(skipped, fmt.Sprintf("%s: %v", row.Label(), sloppyErr))
					continue
				}
				if err := Validate(cfg); err != nil {
					return nil, nil, fmt.Errorf("%s: %w", row.Label(), err)
				}
				plan = append(plan, cfg)
			}
		}
	}
	return plan, skipped, nil
}

// compareRow is the row of a planned run, before its figures.
func compareRow(cfg Config) results.CompareRow {
	if cfg.Cluster.Etcd() {
		return results.CompareRow{Target: target.Etcd, Serializable: cfg.EtcdSerializable}
	}
	return results.CompareRow{N: cfg.Cluster.N, W: cfg.Cluster.W, R: cfg.Cluster.R, Mode: cfg.Cluster.Mode, Sloppy: cfg.Cluster.Sloppy}
}

// sloppySupported asks kvnode whether it has sloppy quorums: the cluster
// backend passes --sloppy to `kvnode serve`, which a kvnode without them
// would refuse at start-up.
func sloppySupported(ctx context.Context, bin string) error {
	bin, err := launch.KVNodeBinary(ctx, bin, false)
	if err != nil {
		return fmt.Errorf("cannot tell whether kvnode supports sloppy quorums: %w", err)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "serve", "--help")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cannot tell whether kvnode supports sloppy quorums: %s serve --help: %w", bin, err)
	}
	if !strings.Contains(out.String(), "--sloppy") {
		return errors.New("kvnode does not support sloppy quorums yet (`kvnode serve` has no --sloppy flag)")
	}
	return nil
}

func describeWorkload(cfg Config) string {
	w := cfg.Workload
	loop := fmt.Sprintf("%d clients closed loop", w.Concurrency)
	if w.Rate > 0 {
		loop = fmt.Sprintf("%d clients at %.0f ops/s", w.Concurrency, w.Rate)
	}
	return fmt.Sprintf("%s, %s, %s each, seed %d, %d nodes", w.Name, loop, w.TimeLimit, w.Seed, cfg.Cluster.Nodes)
}

func describeNemesis(cfg Config) string {
	if len(cfg.Nemesis.Faults) == 0 {
		return "none"
	}
	return fmt.Sprintf("%s every ~%s", strings.Join(cfg.Nemesis.Faults, ","), cfg.Nemesis.Interval)
}

// summarize is the progress line of a finished configuration.
func summarize(r results.CompareRow) string {
	parts := []string{strings.ToUpper(string(r.Verdict)), fmt.Sprintf("%.0f ok ops/s", r.Throughput)}
	if r.Read != nil {
		parts = append(parts, fmt.Sprintf("read p99 %.2f ms", r.Read.P99))
	}
	if r.Write != nil {
		parts = append(parts, fmt.Sprintf("%s p99 %.2f ms", r.Write.F, r.Write.P99))
	}
	if r.StaleShare != nil {
		parts = append(parts, fmt.Sprintf("%.1f%% stale reads", 100**r.StaleShare))
	}
	if r.LostWrites != nil {
		parts = append(parts, fmt.Sprintf("%d lost", *r.LostWrites))
	}
	if r.Linearizable == checker.Invalid {
		parts = append(parts, "not linearizable")
	}
	return strings.Join(parts, ", ")
}
