package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/quorumlab/quorumlab/cluster/launch"
	"github.com/quorumlab/quorumlab/cluster/local"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/results"
	"github.com/quorumlab/quorumlab/target"
)

func compareCmd(stdout io.Writer, log *slog.Logger, abort <-chan struct{}) *cobra.Command {
	cfg := harness.DefaultConfig()
	var faults, configs, modes, targets string
	var sloppy []bool
	var quiet bool
	cmd := &cobra.Command{
		Use:   "compare",
		Short: "Run one test over several quorum configurations and modes, and compare them",
		Long: `Run the same workload and faults, with the same seed, on a fresh cluster for
every combination of --configs (N/W/R), --modes and --sloppy of kvnode, and
once for every other target of --targets (etcd), one after the other. Each run is stored as a normal run; the comparison goes to
store/compare/<timestamp>/ as compare.json, compare.md and compare.html.

Linearizable combinations whose quorums do not overlap (W + R <= N) are
skipped, with the reason. Exit code 0 when the comparison completed, whatever
the verdicts; 3 when the harness failed.`,
		Example: `  quorumlab compare --configs 3/1/1,3/2/2,3/3/1 --modes lww,linearizable --nemesis partition --time-limit 30s
  quorumlab compare --targets kvnode,etcd --configs 3/2/2 --workload ycsb --nemesis none --nodes 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := resolveRunFlags(cmd, &cfg, faults, quiet); err != nil {
				return err
			}
			cfg.Abort = abort
			quorums, err := harness.ParseQuorums(configs)
			if err != nil {
				return err
			}
			modeList := splitList(modes)
			if cfg.Backend == "local" && !local.InNamespace() {
				if code, done, err := reexecLocal(cmd.Context(), &cfg, log); done || err != nil {
					if err != nil {
						return err
					}
					return exitError{code}
				}
			}
			cc := harness.CompareConfig{Base: cfg, Targets: splitList(targets), Quorums: quorums, Modes: modeList, Sloppy: sloppy}
			if !quiet {
				cc.Progress = os.Stderr
			}
			dir, cmp, err := harness.Compare(cmd.Context(), cc, log)
			if dir != "" && len(cmp.Rows) > 0 {
				fmt.Fprintln(stdout, results.CompareMarkdown(cmp))
				fmt.Fprintf(stdout, "comparison stored in %s\n", filepath.Join(dir, results.CompareHTML))
			}
			return err // verdicts are data here: only harness failures exit non-zero
		},
	}
	addRunFlags(cmd, &cfg, &faults, &quiet)
	f := cmd.Flags()
	f.StringVar(&targets, "targets", target.KVNode, "stores to compare: kvnode, etcd or kvnode,etcd; --configs, --modes and --sloppy apply to kvnode, which has no cas (its runs use --cas-ratio 0)")
	f.StringVar(&configs, "configs", "3/1/1,3/2/2,3/3/1,3/1/3", "quorum configurations to compare, as N/W/R")
	f.StringVar(&modes, "modes", "lww,linearizable", "consistency modes to compare: some of lww, vclock, linearizable")
	f.BoolSliceVar(&sloppy, "sloppy", []bool{false}, "sloppy quorums with hinted handoff: false, true, or false,true for both")
	f.Lookup("sloppy").NoOptDefVal = "true"
	return cmd
}

// splitList splits a comma-separated flag, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, m := range strings.Split(s, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// reexecLocal prepares the local backend as `run` does: it finds or builds
// kvnode here, where the module proxy is reachable, then runs this command
// again inside a private user+network namespace (once, for every
// configuration). done reports that the re-executed command ran, with its
// exit code; without a namespace it returns done false and the caller
// carries on in-process, without network faults.
func reexecLocal(ctx context.Context, cfg *harness.Config, log *slog.Logger) (code int, done bool, err error) {
	bin, err := launch.KVNodeBinary(ctx, cfg.Cluster.KVNodeBin, false)
	if err != nil {
		return 0, false, err
	}
	os.Setenv(envKVNodeBin, bin)
	cfg.Cluster.KVNodeBin = bin
	code, err = local.Reexec(ctx)
	if err == nil {
		return code, true, nil
	}
	if !errors.Is(err, local.ErrNoNamespace) {
		return 0, false, err
	}
	log.Warn("running without a private network namespace: partitions and packet loss are unavailable", "reason", err)
	return 0, false, nil
}
