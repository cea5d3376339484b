package results

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/pbs"
)

// PredictionFile holds the staleness PBS predicts from a run's measured
// replica latencies, beside what the run measured.
const PredictionFile = "pbs.json"

// Prediction compares, point by point of the measured t-visibility curve,
// the share of fresh reads with the share WARS predicts for the same reads.
type Prediction struct {
	N, R, W int
	Trials  int `json:"trials"`
	// TVisibility is the predicted 99.9 % t-visibility, ms.
	TVisibility float64           `json:"t_visibility_999_ms"`
	Points      []PredictionPoint `json:"points"`
	// Differs is set when some point's gap exceeds three standard errors.
	Differs bool   `json:"differs"`
	Summary string `json:"summary"`
}

// PredictionPoint is one point: over the Reads reads begun at least AfterMs
// after the newest completed write, the measured and the predicted fresh
// share, and the standard error of their difference.
type PredictionPoint struct {
	AfterMs   int     `json:"after_ms"`
	Reads     int     `json:"reads"`
	Measured  float64 `json:"measured"`
	Predicted float64 `json:"predicted"`
	StdErr    float64 `json:"std_err"`
	Differs   bool    `json:"differs"`
}

// Predict runs WARS on the run's measured latencies for N, R, W and
// averages the predicted fresh share over the run's own read delays: the
// prediction for each read is that of a read begun its delay after commit.
func Predict(w WARS, n, r, wq, trials int, s checker.Staleness) (Prediction, error) {
	m, err := w.Model()
	if err != nil {
		return Prediction{}, err
	}
	p, err := pbs.Predict(m, pbs.Config{N: n, R: r, W: wq, Trials: trials, Seed: 1})
	if err != nil {
		return Prediction{}, err
	}
	out := Prediction{N: n, R: r, W: wq, Trials: trials, TVisibility: p.TVisibility(0.999)}
	for _, v := range s.Visibility {
		pt := PredictionPoint{AfterMs: v.AfterMs, Reads: v.Reads, Measured: v.FreshShare}
		if v.Reads == 0 {
			continue
		}
		var sum float64
		var reads int
		for _, b := range s.Delays {
			if b.FromMs < float64(v.AfterMs) || b.Reads == 0 {
				continue
			}
			mid := b.FromMs // an open last bucket: its start
			if b.ToMs > 0 {
				mid = (b.FromMs + b.ToMs) / 2
			}
			sum += float64(b.Reads) * p.Fresh(mid)
			reads += b.Reads
		}
		if reads == 0 {
			continue
		}
		pt.Predicted = sum / float64(reads)
		// Binomial errors of both shares; a share of 0 or 1 is taken as half
		// an event off it, so that one stale read in thousands is no proof.
		n := float64(pt.Reads)
		q := min(max(pt.Predicted, 0.5/n), 1-0.5/n)
		pt.StdErr = math.Sqrt(q*(1-q)/n + q*(1-q)/float64(trials))
		pt.Differs = math.Abs(pt.Measured-pt.Predicted) > 3*pt.StdErr+1e-9
		out.Differs = out.Differs || pt.Differs
		out.Points = append(out.Points, pt)
	}
	if len(out.Points) == 0 {
		return out, fmt.Errorf("no read followed a completed write")
	}
	first := out.Points[0]
	out.Summary = fmt.Sprintf("reads begun ≥%d ms after a write: %.2f %% fresh measured, %.2f %% predicted by WARS from this run's replica latencies (N%d R%d W%d)",
		first.AfterMs, 100*first.Measured, 100*first.Predicted, n, r, wq)
	if out.Differs {
		out.Summary += "; they differ by more than the error: a finding about the system (read repair, anti-entropy, correlated delays, or a bug), not noise"
	} else {
		out.Summary += "; they agree within the error"
	}
	return out, nil
}

// ReadPrediction reads dir's pbs.json.
func ReadPrediction(dir string) (Prediction, error) {
	b, err := os.ReadFile(filepath.Join(dir, PredictionFile))
	if err != nil {
		return Prediction{}, err
	}
	var p Prediction
	if err := json.Unmarshal(b, &p); err != nil {
		return Prediction{}, fmt.Errorf("%s: %w", PredictionFile, err)
	}
	return p, nil
}
