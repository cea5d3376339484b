package results

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/quorumlab/quorumlab/checker"
)

// Summary prints the verdicts, counts and latencies of a run.
func Summary(w io.Writer, dir string, res checker.Results) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "verdict\t%s\n", strings.ToUpper(string(res.Verdict)))
	if res.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", res.Error)
	}
	if res.Interrupted {
		fmt.Fprintf(tw, "interrupted\tthe run was stopped early; these results cover what was recorded until then\n")
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(tw, "warning\t%s\n", w)
	}
	if l := res.Linearizable; l != nil {
		line := string(l.Verdict)
		for _, a := range l.Anomalies {
			line += fmt.Sprintf("; %s on key %s (%d ops)", a.Kind, a.Key, a.Count)
		}
		if l.Error != "" {
			line += "; " + l.Error
		}
		fmt.Fprintf(tw, "%s\t%s\n", registerCheck(l), line)
		for _, k := range slices.Sorted(maps.Keys(l.Unknown)) {
			fmt.Fprintf(tw, "unknown key\t%s: %s\n", k, l.Unknown[k])
		}
		// One witness per key, in words: what a reader needs to start.
		seen := make(map[string]bool)
		for _, wt := range l.Witnesses {
			if !seen[wt.Key] && len(seen) < 3 {
				seen[wt.Key] = true
				fmt.Fprintf(tw, "witness\t%s on key %s: %s\n", wt.Kind, wt.Key, wt.Text)
			}
		}
	}
	if s := res.Staleness; s != nil {
		fmt.Fprintf(tw, "stale reads\t%d of %d (%.1f%%)\n", s.Stale, s.Reads, 100*s.StaleShare)
	}
	if s := res.Set; s != nil {
		fmt.Fprintf(tw, "set\t%s: attempted %d, acknowledged %d, lost %d, recovered %d, unexpected %d%s\n",
			s.Verdict, s.Attempted, s.Acknowledged, s.Lost, s.Recovered, s.Unexpected, deletions(s))
	}
	if c := res.Convergence; c != nil {
		fmt.Fprintf(tw, "convergence\t%s: %s\n", c.Verdict, convergenceDetail(c))
		for _, d := range c.Diverged[:min(len(c.Diverged), 3)] {
			fmt.Fprintf(tw, "diverged\t%s\n", d.Text)
		}
		for _, d := range c.RangesDiverged[:min(len(c.RangesDiverged), 3)] {
			fmt.Fprintf(tw, "diverged\t%s\n", d)
		}
	}
	a := res.Availability
	faulty := "no operation under faults"
	if f := a.Faulty; f.OK+f.Fail+f.Info > 0 {
		faulty = fmt.Sprintf("under faults %.1f%% ok", 100*f.Share)
	}
	fmt.Fprintf(tw, "availability\thealthy %.1f%% ok, %s\n", 100*a.Healthy.Share, faulty)
	fmt.Fprintf(tw, "throughput\t%.0f ok ops/s\n", res.Latency.Throughput)
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\toutcome\tcount\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\t")
	ops := slices.Clone(res.Latency.Ops)
	for _, s := range ops {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", s.F, s.Outcome, s.Count, s.P50, s.P90, s.P99, s.P999, s.Max)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nrun stored in %s\n", dir)
}
