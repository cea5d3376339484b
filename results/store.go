// Package results lays out the run store (store/<test>/<timestamp>/), writes
// a run's results and summary, and reads stored runs back.
package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/quorumlab/quorumlab/checker"
)

// File names inside a run directory.
const (
	TestFile    = "test.json"
	HistoryFile = "history.jsonl"
	ResultsFile = "results.json"
	NodesDir    = "nodes"
	LatestLink  = "latest"
)

// NewRunDir creates store/<test>/<timestamp>/ (and nodes/ inside it).
// MarkLatest points store/latest at it once the run has results.
func NewRunDir(store, test string, now time.Time) (string, error) {
	if test == "" || strings.ContainsAny(test, `/\`) || test == "." || test == ".." {
		return "", fmt.Errorf("test name %q: must be a plain name", test)
	}
	stamp := now.UTC().Format("20060102T150405.000Z")
	dir := filepath.Join(store, test, stamp)
	if err := os.MkdirAll(filepath.Join(dir, NodesDir), 0o755); err != nil {
		return "", fmt.Errorf("create run dir: %w", err)
	}
	return dir, nil
}

// MarkLatest points store/latest at the run in dir: only runs that ran are
// ever the latest, not one refused or stopped before it recorded anything.
func MarkLatest(store, dir string) error {
	link := filepath.Join(store, LatestLink)
	rel, err := filepath.Rel(store, dir)
	if err != nil {
		return err
	}
	tmp := link + ".tmp"
	os.Remove(tmp)
	if err := os.Symlink(rel, tmp); err != nil {
		return fmt.Errorf("link %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		return fmt.Errorf("link %s: %w", link, err)
	}
	return nil
}

// WriteJSON writes v, indented, to path (atomically: temp file and rename).
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// ResolveHistory accepts a run directory or a history file and returns the
// run directory and the history path.
func ResolveHistory(path string) (dir, hist string, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", path, err)
	}
	if fi.IsDir() {
		hist = filepath.Join(path, HistoryFile)
		if _, err := os.Stat(hist); err != nil {
			return "", "", fmt.Errorf("%s is not a run directory: %w", path, err)
		}
		return path, hist, nil
	}
	return filepath.Dir(path), path, nil
}

// Write stores a run's results in dir: results.json, porcupine's
// visualization of every failing key (linear-<key>.html) and the latency
// percentile distributions in HdrHistogram's text format (latency-<f>-<outcome>.hgrm).
func Write(dir string, res checker.Results) error {
	if err := WriteJSON(filepath.Join(dir, ResultsFile), res); err != nil {
		return err
	}
	var errs []error
	if res.Linearizable != nil {
		for key, html := range res.Linearizable.Visualizations {
			p := filepath.Join(dir, linearFile(key))
			errs = append(errs, os.WriteFile(p, html, 0o644))
		}
	}
	for _, s := range res.Latency.Ops {
		p := filepath.Join(dir, hgrmFile(s.F, s.Outcome))
		errs = append(errs, os.WriteFile(p, []byte(res.Latency.Percentiles(s.F, s.Outcome)), 0o644))
	}
	return errors.Join(errs...)
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

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

// deletions describes a set run's deletes, if it had any.
func deletions(s *checker.SetResult) string {
	if s.Deleted == 0 && s.Resurrected == 0 {
		return ""
	}
	d := fmt.Sprintf(", deleted %d, resurrected %d", s.Deleted, s.Resurrected)
	if s.Note != "" {
		d += " (" + s.Note + ")"
	}
	return d
}
