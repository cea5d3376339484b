package pbs

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGoldenLnkdSSD compares LNKD-SSD at N3 R1 W1 with the paper. The
// paper gives a 97.4 % chance of a fresh read right after commit, which this
// model reproduces within the Monte Carlo error, and a 99.9 % t-visibility
// of 1.85 ms, where it gives 1.94 ms: the tail differs by 5 %, beyond the
// error. The paper's simulator read fitted distributions from percentile
// files, which cuts the tail short; the bound below holds our figure to
// the paper's within that gap, so a change to the model shows.
func TestGoldenLnkdSSD(t *testing.T) {
	m, _ := Builtin("lnkd-ssd")
	const runs, trials = 8, 200_000
	var tv, fresh []float64
	for s := range runs {
		p, err := Predict(m, Config{N: 3, R: 1, W: 1, Trials: trials, Seed: uint64(s + 1)})
		if err != nil {
			t.Fatal(err)
		}
		tv, fresh = append(tv, p.TVisibility(0.999)), append(fresh, p.Fresh(0))
	}
	tvMean, tvSD := meanSD(tv)
	fMean, fSD := meanSD(fresh)
	t.Logf("99.9%% t-visibility %.3f ms (sd %.3f), P(fresh at 0) %.4f (sd %.4f), %d runs of %d trials", tvMean, tvSD, fMean, fSD, runs, trials)
	if tol := 0.0005 + 4*fSD/math.Sqrt(runs); math.Abs(fMean-0.974) > tol {
		t.Errorf("P(fresh at 0) %.4f, want the paper's 0.974 ± %.4f", fMean, tol)
	}
	if math.Abs(tvMean-1.85) > 0.15 {
		t.Errorf("99.9%% t-visibility %.3f ms, want within 0.15 ms of the paper's 1.85", tvMean)
	}
}

func TestStrictQuorumIsFresh(t *testing.T) {
	for _, name := range BuiltinNames() {
		m, _ := Builtin(name)
		for _, c := range []Config{{N: 3, R: 2, W: 2}, {N: 3, R: 1, W: 3}, {N: 3, R: 3, W: 1}, {N: 5, R: 3, W: 3}} {
			c.Trials, c.Seed = 20_000, 1
			p, err := Predict(m, c)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Fresh(0); got != 1 || p.TVisibility(0.9999) != 0 {
				t.Errorf("%s N%d R%d W%d: P(fresh at 0) = %v, want 1", name, c.N, c.R, c.W, got)
			}
		}
	}
}

func TestPartialQuorumIsStale(t *testing.T) {
	m, _ := Builtin("lnkd-disk")
	p, _ := Predict(m, Config{N: 3, R: 1, W: 1, Trials: 50_000, Seed: 2})
	if f := p.Fresh(0); f > 0.9 || f < 0.1 {
		t.Errorf("lnkd-disk N3 R1 W1: P(fresh at 0) = %.3f, want clearly between", f)
	}
	prev := 0.0
	for _, pt := range p.Curve([]float64{0, 1, 5, 10, 50, 100}) {
		if pt.Fresh < prev {
			t.Fatalf("curve falls at %v ms: %v after %v", pt.AfterMs, pt.Fresh, prev)
		}
		prev = pt.Fresh
	}
}

func TestDistributions(t *testing.T) {
	tests := []struct {
		name      string
		d         Dist
		mean, q50 float64 // analytic
	}{
		{"exp", Exp{2}, 0.5, math.Ln2 / 2},
		{"pareto", Pareto{1, 3}, 1.5, math.Pow(2, 1.0/3)},
		{"lnkd-ssd", Mixture{{0.9122, Pareto{0.235, 10}}, {0.0878, Exp{1.66}}}, 0.9122*0.235*10/9 + 0.0878/1.66, math.NaN()},
	}
	rng := rand.New(rand.NewPCG(3, 3))
	for _, tt := range tests {
		const n = 400_000
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = tt.d.Sample(rng)
		}
		mean, _ := meanSD(xs)
		if math.Abs(mean-tt.mean) > 0.01*tt.mean+0.002 {
			t.Errorf("%s: mean %.4f, want %.4f", tt.name, mean, tt.mean)
		}
		if !math.IsNaN(tt.q50) {
			e, _ := FromSamples(xs)
			p := Prediction{waits: e.lo}
			if q := p.TVisibility(0.5); math.Abs(q-tt.q50) > 0.01*tt.q50 {
				t.Errorf("%s: median %.4f, want %.4f", tt.name, q, tt.q50)
			}
		}
	}
}

func TestEmpirical(t *testing.T) {
	e, err := FromBuckets([]Bucket{{0, 1, 1}, {1, 2, 0}, {2, 4, 3}})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	low := 0
	for range 100_000 {
		v := e.Sample(rng)
		if v < 0 || v > 4 || (v > 1 && v < 2) {
			t.Fatalf("sample %v outside the buckets", v)
		}
		if v <= 1 {
			low++
		}
	}
	if share := float64(low) / 100_000; math.Abs(share-0.25) > 0.01 {
		t.Errorf("share in the first bucket %.3f, want 0.25", share)
	}
	if _, err := FromBuckets(nil); err == nil {
		t.Error("empty histogram accepted")
	}
	if _, err := FromSamples([]float64{1, -2}); err == nil {
		t.Error("negative latency accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{N: 0, R: 1, W: 1, Trials: 1}, {N: 3, R: 4, W: 1, Trials: 1}, {N: 3, R: 1, W: 1, Trials: 0}} {
		if _, err := Predict(Model{}, c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func meanSD(xs []float64) (float64, float64) {
	var s, ss float64
	for _, x := range xs {
		s += x
	}
	m := s / float64(len(xs))
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return m, math.Sqrt(ss / float64(max(len(xs)-1, 1)))
}
