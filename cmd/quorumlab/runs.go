package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/results"
)

// runFunc runs one test: harness.Run, or a stand-in in tests.
type runFunc func(context.Context, harness.Config) (harness.Outcome, error)

// machineOutput are run's flags for CI: machine-readable output and
// repeated runs.
type machineOutput struct {
	json      bool
	junit     string
	count     int
	keepGoing bool
}

// runTests runs cfg mo.count times with consecutive seeds, as Jepsen's
// --test-count does, prints each summary (or the JSON of all) and returns
// the exit: the worst verdict, or the harness's error.
func runTests(ctx context.Context, cfg harness.Config, mo machineOutput, stdout io.Writer, run runFunc) error {
	var (
		runs    []results.RunSummary
		runErr  error
		verdict = checker.Valid
	)
	for i := range mo.count {
		c := cfg
		c.Workload.Seed = cfg.Workload.Seed + uint64(i)
		c.Nemesis.Seed = c.Workload.Seed
		start := time.Now()
		out, err := run(ctx, c)
		if !mo.json && out.Dir != "" && (err == nil || out.Results.Verdict != "") {
			results.Summary(stdout, out.Dir, out.Results)
		}
		s := results.Summarize(c.Test, out.Dir, c.Workload.Seed, out.Results, err, out.Interrupted, time.Since(start))
		runs = append(runs, s)
		verdict = checker.Combine(verdict, s.Verdict)
		switch {
		case err != nil:
			runErr = err
		case out.Interrupted:
			runErr = fmt.Errorf("interrupted; the history recorded until then was checked: %s", out.Results.Verdict)
		}
		if runErr != nil || (s.Verdict == checker.Invalid && !mo.keepGoing) {
			break
		}
	}
	counts := map[checker.Verdict]int{}
	for _, r := range runs {
		counts[r.Verdict]++
	}
	if mo.count > 1 && !mo.json {
		fmt.Fprintf(stdout, "\n%d of %d runs: %d valid, %d invalid, %d unknown\n", len(runs), mo.count, counts[checker.Valid], counts[checker.Invalid], counts[checker.Unknown])
	}
	if mo.junit != "" {
		b, err := results.JUnit(runs)
		if err == nil {
			err = os.WriteFile(mo.junit, b, 0o644)
		}
		if err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	if mo.json {
		var v any = runs[0]
		if mo.count > 1 {
			v = struct {
				Verdict checker.Verdict         `json:"verdict"`
				Counts  map[checker.Verdict]int `json:"counts"`
				Runs    []results.RunSummary    `json:"runs"`
			}{verdict, counts, runs}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	if runErr != nil {
		return runErr
	}
	return exitError{verdict.ExitCode()}
}
