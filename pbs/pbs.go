// Package pbs predicts staleness of partial quorums with the WARS model of
// Bailis et al., "Probabilistically Bounded Staleness for Practical Partial
// Quorums" (VLDB 2012): Monte Carlo trials over one-way latency
// distributions give the probability that a read begun t ms after a write
// committed returns it, and the t at which that probability reaches p.
// It does no I/O.
package pbs

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Model is the four one-way latencies of WARS, in ms: W coordinator to
// replica (the write), A the ack back, R the read request, S the read
// response.
type Model struct {
	W, A, R, S Dist
}

// Config is one quorum configuration and the trial count.
type Config struct {
	N, R, W int
	Trials  int
	Seed    uint64
}

// DefaultConfig is N3 R1 W1, one million trials.
func DefaultConfig() Config { return Config{N: 3, R: 1, W: 1, Trials: 1_000_000, Seed: 1} }

// Validate checks the quorum sizes and trial count.
func (c Config) Validate() error {
	switch {
	case c.N < 1:
		return fmt.Errorf("pbs: N=%d: must be at least 1", c.N)
	case c.R < 1 || c.R > c.N || c.W < 1 || c.W > c.N:
		return fmt.Errorf("pbs: R=%d W=%d: both must be between 1 and N=%d", c.R, c.W, c.N)
	case c.Trials < 1:
		return fmt.Errorf("pbs: trials=%d: must be at least 1", c.Trials)
	}
	return nil
}

// Prediction holds, per trial, how long after the write committed a read
// had to begin to return it (0 if it always did), sorted.
type Prediction struct {
	waits []float64
}

// Predict runs cfg.Trials WARS trials. In each, the write reaches replica i
// after w_i and its ack returns a_i later; it commits at the W-th fastest
// w_i + a_i. A read begun t after commit reaches replica i after r_i and
// answers s_i later; the first R answers count, and the read is fresh if
// one of them comes from a replica the write reached first: w_i <= commit
// + t + r_i.
func Predict(m Model, cfg Config) (Prediction, error) {
	if err := cfg.Validate(); err != nil {
		return Prediction{}, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	n := cfg.N
	w, acked, r, order := make([]float64, n), make([]float64, n), make([]float64, n), make([]int, n)
	rs := make([]float64, n)
	waits := make([]float64, cfg.Trials)
	for t := range waits {
		for i := range n {
			w[i] = m.W.Sample(rng)
			acked[i] = w[i] + m.A.Sample(rng)
			r[i] = m.R.Sample(rng)
			rs[i] = r[i] + m.S.Sample(rng)
			order[i] = i
		}
		commit := kth(acked, cfg.W)
		slices.SortFunc(order, func(a, b int) int { return cmpFloat(rs[a], rs[b]) })
		wait := math.Inf(1)
		for _, i := range order[:cfg.R] {
			wait = min(wait, w[i]-commit-r[i])
		}
		waits[t] = max(wait, 0)
	}
	slices.Sort(waits)
	return Prediction{waits: waits}, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// kth is the k-th smallest of xs (k from 1), without reordering xs.
func kth(xs []float64, k int) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[k-1]
}

// Fresh is P(a read begun t ms after the write committed returns it).
func (p Prediction) Fresh(t float64) float64 {
	if len(p.waits) == 0 {
		return 0
	}
	i, found := slices.BinarySearch(p.waits, t)
	for found && i < len(p.waits) && p.waits[i] == t {
		i++
	}
	return float64(i) / float64(len(p.waits))
}

// TVisibility is the smallest t (ms) with Fresh(t) >= q.
func (p Prediction) TVisibility(q float64) float64 {
	if len(p.waits) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(p.waits)))) - 1
	return p.waits[min(max(i, 0), len(p.waits)-1)]
}

// Point is one point of a predicted curve.
type Point struct {
	AfterMs float64 `json:"after_ms"`
	Fresh   float64 `json:"fresh"`
}

// Curve samples Fresh at ts.
func (p Prediction) Curve(ts []float64) []Point {
	out := make([]Point, len(ts))
	for i, t := range ts {
		out[i] = Point{t, p.Fresh(t)}
	}
	return out
}

// Builtin returns one of the paper's latency fits: "lnkd-ssd", "lnkd-disk"
// or "ymmr".
func Builtin(name string) (Model, bool) {
	lnkdSSD := Mixture{{0.9122, Pareto{0.235, 10}}, {0.0878, Exp{1.66}}}
	switch name {
	case "lnkd-ssd":
		return Model{W: lnkdSSD, A: lnkdSSD, R: lnkdSSD, S: lnkdSSD}, true
	case "lnkd-disk":
		return Model{W: Mixture{{0.38, Pareto{1.05, 1.51}}, {0.62, Exp{0.183}}}, A: lnkdSSD, R: lnkdSSD, S: lnkdSSD}, true
	case "ymmr":
		ars := Mixture{{0.982, Pareto{1.5, 3.8}}, {0.018, Exp{0.0217}}}
		return Model{W: Mixture{{0.939, Pareto{3, 3.35}}, {0.061, Exp{0.0028}}}, A: ars, R: ars, S: ars}, true
	}
	return Model{}, false
}

// BuiltinNames lists the models Builtin knows.
func BuiltinNames() []string { return []string{"lnkd-ssd", "lnkd-disk", "ymmr"} }
