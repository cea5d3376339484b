package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/results"
	"github.com/quorumlab/quorumlab/workload"
)

// History formats that check reads.
const (
	formatHistory   = "history"    // our history.jsonl
	formatJepsenLog = "jepsen-log" // a classic Jepsen log of one register
)

// checkCmd re-checks a stored history, or a Jepsen log (--format).
func checkCmd(stdout io.Writer) *cobra.Command {
	var workloadName, format string
	opts := checker.Options{Timeout: 5 * time.Minute, Memory: harness.DefaultCheckMemory()}
	var quiet bool
	cmd := &cobra.Command{
		Use:   "check RUN_DIR|HISTORY.jsonl|JEPSEN.log",
		Short: "Re-run the checkers on a stored history and rewrite results.json",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !quiet {
				opts.Progress = cmd.ErrOrStderr()
			}
			var (
				dir string
				res checker.Results
				err error
			)
			switch format {
			case formatHistory:
				var hist string
				if dir, hist, err = results.ResolveHistory(args[0]); err != nil {
					return err
				}
				if workloadName == "" {
					workloadName = storedWorkload(dir)
				}
				opts.Workload = workloadName
				res, err = harness.Check(cmd.Context(), hist, dir, opts)
			case formatJepsenLog:
				if workloadName != "" && workloadName != workload.Register {
					return fmt.Errorf("--workload %s: a Jepsen log is a register history", workloadName)
				}
				opts.Workload = workload.Register
				dir, res, err = checkJepsenLog(cmd, args[0], opts)
			default:
				return fmt.Errorf("unknown format %q (want %s or %s)", format, formatHistory, formatJepsenLog)
			}
			if err != nil {
				return err
			}
			results.Summary(stdout, dir, res)
			return exitError{res.Verdict.ExitCode()}
		},
	}
	cmd.Flags().StringVar(&format, "format", formatHistory, "format of the history: history (history.jsonl) or jepsen-log (a classic Jepsen log of one register)")
	cmd.Flags().StringVar(&workloadName, "workload", "", "register, set or ycsb (default: from the run's test.json, else register)")
	cmd.Flags().DurationVar(&opts.Timeout, "check-timeout", opts.Timeout, "bound on the linearizability check")
	cmd.Flags().Var(byteSize{&opts.Memory}, "check-memory", "bound on the check's memory, e.g. 2GiB; by default half of this machine's memory, at most 4GiB")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress lines during a long check")
	return cmd
}

// checkJepsenLog checks the Jepsen log at path as harness.Check checks a
// history, and writes the results beside it.
func checkJepsenLog(cmd *cobra.Command, path string, opts checker.Options) (string, checker.Results, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", checker.Results{}, fmt.Errorf("read Jepsen log: %w", err)
	}
	defer f.Close()
	ops, warnings, err := history.ReadJepsenLog(f)
	if err != nil {
		return "", checker.Results{}, fmt.Errorf("%s: %w", path, err)
	}
	opts.Visualize = true
	res := checker.Check(cmd.Context(), ops, opts)
	res.Warnings = slices.Concat(warnings, res.Warnings)
	dir := filepath.Dir(path)
	if err := results.Write(dir, res); err != nil {
		return dir, res, err
	}
	return dir, res, results.WriteReport(dir, ops, res)
}
