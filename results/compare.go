package results

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/target"
)

// Files of a comparison, in store/compare/<timestamp>/.
const (
	CompareDir  = "compare"
	CompareJSON = "compare.json"
	CompareMD   = "compare.md"
	CompareHTML = "compare.html"
)

// visibilityTimes are the t (ms after a write completed) at which the
// comparison table shows t-visibility.
func visibilityTimes() []int { return []int{0, 1, 5, 10, 50, 100} }

// Comparison is compare.json: one row per configuration that ran, and the
// combinations that did not, with the reason.
type Comparison struct {
	Started  time.Time    `json:"started"`
	Workload string       `json:"workload"` // e.g. "register, 10 clients, 60s"
	Nemesis  string       `json:"nemesis"`  // e.g. "partition,kill" or "none"
	Rows     []CompareRow `json:"rows"`
	Skipped  []string     `json:"skipped,omitempty"`
}

// CompareRow is one configuration's results.
type CompareRow struct {
	// Target is the store, kvnode unless set; N, W, R, Mode and Sloppy
	// are kvnode's settings.
	Target string `json:"target,omitempty"`
	// Serializable: etcd's reads were serializable.
	Serializable bool   `json:"serializable,omitempty"`
	N            int    `json:"n"`
	W            int    `json:"w"`
	R            int    `json:"r"`
	Mode         string `json:"mode"`
	Sloppy       bool   `json:"sloppy"`
	// Run is the run directory, relative to the comparison's directory.
	Run string `json:"run,omitempty"`
	// Error is set if the harness failed on this configuration.
	Error      string          `json:"error,omitempty"`
	Verdict    checker.Verdict `json:"verdict,omitempty"`
	Throughput float64         `json:"throughput"` // ok ops/s
	Read       *LatencyFigure  `json:"read,omitempty"`
	Write      *LatencyFigure  `json:"write,omitempty"`
	// FaultAvailability is the ok share of operations invoked during
	// faults; nil when no operation was.
	FaultAvailability *float64 `json:"fault_availability,omitempty"`
	// Linearizable, StaleShare and Visibility apply to the register
	// workload, LostWrites to the set workload.
	Linearizable checker.Verdict           `json:"linearizable,omitempty"`
	LostWrites   *int                      `json:"lost_writes,omitempty"`
	StaleShare   *float64                  `json:"stale_share,omitempty"`
	Visibility   []checker.VisibilityPoint `json:"visibility,omitempty"`
	// Predicted is the fresh share PBS predicts for the same reads from the
	// run's measured replica latencies, per point of Visibility.
	Predicted []PredictionPoint `json:"predicted,omitempty"`
}

// FillPrediction adds the run's staleness prediction to r.
func (r *CompareRow) FillPrediction(p Prediction) { r.Predicted = p.Points }

// predictedAt returns the predicted fresh share at t ms, "—" without one,
// marked where it differs from the measured share beyond the error.
func (r CompareRow) predictedAt(t int) string {
	for _, p := range r.Predicted {
		if p.AfterMs == t {
			s := fmt.Sprintf("%.3f", p.Predicted)
			if p.Differs {
				s += " (differs)"
			}
			return s
		}
	}
	return "—"
}

// LatencyFigure is the ok latency of one operation, in ms.
type LatencyFigure struct {
	F    string  `json:"f"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
}

// Label names the configuration, e.g. "3/2/2 lww".
// etcdLabel names an etcd run by its reads.
func etcdLabel(serializable bool) string {
	if serializable {
		return "etcd serializable"
	}
	return "etcd"
}

func (r CompareRow) Label() string {
	if r.Target == target.Etcd {
		return etcdLabel(r.Serializable)
	}
	s := fmt.Sprintf("%d/%d/%d %s", r.N, r.W, r.R, r.Mode)
	if r.Sloppy {
		s += " sloppy"
	}
	return s
}

// Fill sets the figures of r from a run's results.
func (r *CompareRow) Fill(res checker.Results) {
	r.Verdict = res.Verdict
	r.Throughput = res.Latency.Throughput
	// The write-like operation of each workload: register, set, ycsb.
	r.Read = figure(res.Latency, history.FRead)
	r.Write = figure(res.Latency, history.FWrite, history.FAdd, history.FUpdate, history.FInsert, history.FRMW)
	if f := res.Availability.Faulty; f.OK+f.Fail+f.Info > 0 {
		r.FaultAvailability = &f.Share
	}
	if l := res.Linearizable; l != nil {
		r.Linearizable = l.Verdict
	}
	if s := res.Set; s != nil {
		r.LostWrites = &s.Lost
	}
	if s := res.Staleness; s != nil {
		r.StaleShare = &s.StaleShare
		r.Visibility = s.Visibility
	}
}

func figure(l checker.Latency, fs ...string) *LatencyFigure {
	for _, f := range fs {
		for _, s := range l.Ops {
			if s.F == f && s.Outcome == history.OK {
				return &LatencyFigure{F: f, P50: s.P50, P99: s.P99, P999: s.P999}
			}
		}
	}
	return nil
}

// visibilityAt returns the t-visibility at t ms, or "—" without reads.
func (r CompareRow) visibilityAt(t int) string {
	for _, p := range r.Visibility {
		if p.AfterMs == t && p.Reads > 0 {
			return fmt.Sprintf("%.3f", p.FreshShare)
		}
	}
	return "—"
}

// NewCompareDir creates store/compare/<timestamp>/.
func NewCompareDir(store string, now time.Time) (string, error) {
	dir := filepath.Join(store, CompareDir, now.UTC().Format("20060102T150405.000Z"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create comparison dir: %w", err)
	}
	return dir, nil
}

// WriteComparison writes compare.json, compare.md and compare.html into dir.
func WriteComparison(dir string, c Comparison) error {
	if err := WriteJSON(filepath.Join(dir, CompareJSON), c); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, CompareMD), []byte(CompareMarkdown(c)), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", CompareMD, err)
	}
	html, err := renderComparison(c)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, CompareHTML), html, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", CompareHTML, err)
	}
	return nil
}
