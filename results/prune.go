package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/quorumlab/quorumlab/checker"
)

// Pruned is what Prune removed.
type Pruned struct {
	Runs     []string // whole run directories, past the age limit
	DataDirs []string // node data dirs a run left (its harness ended abruptly)
}

// Prune tidies a store. It removes the runs older than olderThan (0: none)
// and the node data dirs left in runs whose harness is gone (live reports
// whether a run's harness still runs; dataDir names a run's data dir)
// unless the run is invalid, whose data is evidence. A `latest` link left
// pointing at nothing is removed.
func Prune(store string, olderThan time.Duration, now time.Time, live func(dir string) bool, dataDir func(dir string) string) (Pruned, error) {
	var out Pruned
	var errs []error
	tests, err := os.ReadDir(store)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("prune: %w", err)
	}
	for _, t := range tests {
		if !t.IsDir() {
			continue
		}
		runs, err := os.ReadDir(filepath.Join(store, t.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range runs {
			stamp, err := time.Parse("20060102T150405.000Z", r.Name())
			if !r.IsDir() || err != nil {
				continue // not a run
			}
			dir := filepath.Join(store, t.Name(), r.Name())
			if live(dir) {
				continue
			}
			if olderThan > 0 && now.Sub(stamp) > olderThan {
				if err := os.RemoveAll(dir); err != nil {
					errs = append(errs, err)
				} else {
					out.Runs = append(out.Runs, dir)
				}
				continue
			}
			data := dataDir(dir)
			if _, err := os.Stat(data); err != nil || runVerdict(dir) == checker.Invalid {
				continue
			}
			if err := os.RemoveAll(data); err != nil {
				errs = append(errs, err)
			} else {
				out.DataDirs = append(out.DataDirs, data)
			}
		}
	}
	link := filepath.Join(store, LatestLink)
	if _, err := os.Stat(link); errors.Is(err, os.ErrNotExist) {
		_ = os.Remove(link) // dangling
	}
	return out, errors.Join(errs...)
}

// runVerdict is the verdict in dir's results.json, "" if there is none.
func runVerdict(dir string) checker.Verdict {
	var v struct {
		Verdict checker.Verdict `json:"verdict"`
	}
	b, err := os.ReadFile(filepath.Join(dir, ResultsFile))
	if err != nil || json.Unmarshal(b, &v) != nil {
		return ""
	}
	return v.Verdict
}
