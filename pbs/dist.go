package pbs

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Dist is a one-way latency distribution, in milliseconds.
type Dist interface {
	Sample(rng *rand.Rand) float64
	String() string
}

// Pareto is the Pareto distribution with scale Xm (its minimum) and shape
// Alpha.
type Pareto struct{ Xm, Alpha float64 }

func (d Pareto) Sample(rng *rand.Rand) float64 {
	return d.Xm / math.Pow(1-rng.Float64(), 1/d.Alpha)
}

func (d Pareto) String() string { return fmt.Sprintf("Pareto(%g, %g)", d.Xm, d.Alpha) }

// Exp is the exponential distribution with rate Lambda (mean 1/Lambda).
type Exp struct{ Lambda float64 }

func (d Exp) Sample(rng *rand.Rand) float64 { return rng.ExpFloat64() / d.Lambda }

func (d Exp) String() string { return fmt.Sprintf("Exp(%g)", d.Lambda) }

// Part is one weighted component of a Mixture.
type Part struct {
	Weight float64
	Dist   Dist
}

// Mixture draws from one of its parts, chosen by weight.
type Mixture []Part

func (m Mixture) Sample(rng *rand.Rand) float64 {
	total := 0.0
	for _, p := range m {
		total += p.Weight
	}
	u := rng.Float64() * total
	for _, p := range m {
		if u < p.Weight {
			return p.Dist.Sample(rng)
		}
		u -= p.Weight
	}
	return m[len(m)-1].Dist.Sample(rng)
}

func (m Mixture) String() string {
	parts := make([]string, len(m))
	for i, p := range m {
		parts[i] = fmt.Sprintf("%g%% %s", 100*p.Weight, p.Dist)
	}
	return strings.Join(parts, " + ")
}

// Empirical draws from measured latencies. Built from a histogram, a draw
// picks a bucket by its count and a point uniformly inside it.
type Empirical struct {
	lo, hi []float64 // per bucket, ms
	cum    []float64 // cumulative counts
	n      float64
}

// Bucket is a histogram bucket: Count observations in (Lo, Hi] ms.
type Bucket struct {
	Lo    float64 `json:"lo_ms"`
	Hi    float64 `json:"hi_ms"`
	Count float64 `json:"count"`
}

// FromSamples is the empirical distribution of samples (ms).
func FromSamples(samples []float64) (Empirical, error) {
	if len(samples) == 0 {
		return Empirical{}, fmt.Errorf("pbs: no samples")
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	var e Empirical
	for _, v := range s {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return Empirical{}, fmt.Errorf("pbs: latency %v is not a non-negative number", v)
		}
		e.lo, e.hi = append(e.lo, v), append(e.hi, v)
		e.n++
		e.cum = append(e.cum, e.n)
	}
	return e, nil
}

// FromBuckets is the empirical distribution of a histogram.
func FromBuckets(bs []Bucket) (Empirical, error) {
	var e Empirical
	for _, b := range bs {
		if b.Count < 0 || b.Lo < 0 || b.Hi < b.Lo {
			return Empirical{}, fmt.Errorf("pbs: bad bucket %+v", b)
		}
		if b.Count == 0 {
			continue
		}
		e.n += b.Count
		e.lo, e.hi, e.cum = append(e.lo, b.Lo), append(e.hi, b.Hi), append(e.cum, e.n)
	}
	if e.n == 0 {
		return Empirical{}, fmt.Errorf("pbs: empty histogram")
	}
	return e, nil
}

func (e Empirical) Sample(rng *rand.Rand) float64 {
	u := rng.Float64() * e.n
	i, _ := slices.BinarySearch(e.cum, u)
	i = min(i, len(e.cum)-1)
	return e.lo[i] + rng.Float64()*(e.hi[i]-e.lo[i])
}

func (e Empirical) String() string { return fmt.Sprintf("empirical(%.0f samples)", e.n) }
