// Package results lays out the run store (store/<test>/<timestamp>/), writes
// a run's results and summary, and reads stored runs back.
package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/history"
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

// linearFile and hgrmFile name the files Write stores next to the report.
func linearFile(key string) string { return "linear-" + safeName(key) + ".html" }

func hgrmFile(f string, outcome history.Type) string {
	return fmt.Sprintf("latency-%s-%s.hgrm", safeName(f), outcome)
}
