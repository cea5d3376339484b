package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/quorumlab/quorumlab/pbs"
	"github.com/quorumlab/quorumlab/results"
)

func pbsCmd(stdout io.Writer) *cobra.Command {
	cfg := pbs.DefaultConfig()
	var model string
	var p float64
	cmd := &cobra.Command{
		Use:   "pbs --model lnkd-ssd|lnkd-disk|ymmr|RUN_DIR",
		Short: "Predict staleness with PBS's WARS model: the t-visibility and the curve",
		Long: `Predict how stale partial quorums read, with the WARS model of Bailis et al.
(VLDB 2012): Monte Carlo trials over the one-way latencies of writes (W), acks
(A), read requests (R) and responses (S). --model is one of the paper's fits or
a run directory, whose measured replica latencies (wars.json) are used; for a
run directory N, R and W default to the run's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if p <= 0 || p >= 1 {
				return fmt.Errorf("--p %v: must be between 0 and 1", p)
			}
			m, source, err := pbsModel(cmd, model, &cfg)
			if err != nil {
				return err
			}
			pred, err := pbs.Predict(m, cfg)
			if err != nil {
				return err
			}
			tv := pred.TVisibility(p)
			fmt.Fprintf(stdout, "model %s, N%d R%d W%d, %d trials\n", source, cfg.N, cfg.R, cfg.W, cfg.Trials)
			fmt.Fprintf(stdout, "t-visibility at %g: %.3f ms\n\n", p, tv)
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "t ms\tP(fresh)\t")
			for _, pt := range pred.Curve(curveTimes(pred)) {
				fmt.Fprintf(tw, "%.3f\t%.5f\t\n", pt.AfterMs, pt.Fresh)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&model, "model", "lnkd-ssd", "lnkd-ssd, lnkd-disk, ymmr, or a run directory with measured latencies")
	f.IntVar(&cfg.N, "n", cfg.N, "replicas (N)")
	f.IntVar(&cfg.R, "r", cfg.R, "read quorum (R)")
	f.IntVar(&cfg.W, "w", cfg.W, "write quorum (W)")
	f.Float64Var(&p, "p", 0.999, "probability at which to give the t-visibility")
	f.IntVar(&cfg.Trials, "trials", cfg.Trials, "Monte Carlo trials")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the trials")
	return cmd
}

// pbsModel resolves --model: a built-in fit, or a run directory's measured
// latencies (whose N, R, W apply unless given).
func pbsModel(cmd *cobra.Command, model string, cfg *pbs.Config) (pbs.Model, string, error) {
	if m, ok := pbs.Builtin(model); ok {
		return m, model, nil
	}
	if st, err := os.Stat(model); err != nil || !st.IsDir() {
		return pbs.Model{}, "", fmt.Errorf("--model %q: want one of %s, or a run directory", model, strings.Join(pbs.BuiltinNames(), ", "))
	}
	w, err := results.ReadWARS(model)
	if err != nil {
		return pbs.Model{}, "", fmt.Errorf("%s: no measured replica latencies: %w", model, err)
	}
	m, err := w.Model()
	if err != nil {
		return pbs.Model{}, "", fmt.Errorf("%s: %w", model, err)
	}
	var t struct{ Cluster struct{ N, W, R int } }
	if b, err := os.ReadFile(filepath.Join(model, results.TestFile)); err == nil && json.Unmarshal(b, &t) == nil && t.Cluster.N > 0 {
		for _, q := range []struct {
			flag string
			dst  *int
			v    int
		}{{"n", &cfg.N, t.Cluster.N}, {"r", &cfg.R, t.Cluster.R}, {"w", &cfg.W, t.Cluster.W}} {
			if !cmd.Flags().Changed(q.flag) {
				*q.dst = q.v
			}
		}
	}
	return m, "measured in " + model, nil
}

// curveTimes spans the curve from 0 to past its 99.99 % point.
func curveTimes(p pbs.Prediction) []float64 {
	end := p.TVisibility(0.9999) * 1.2
	if end <= 0 || math.IsNaN(end) {
		return []float64{0}
	}
	ts := make([]float64, 0, 13)
	for i := range 13 {
		ts = append(ts, end*float64(i)/12)
	}
	return ts
}
