package checker

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/quorumlab/quorumlab/history"
)

// Histogram range: 1 µs to 1 h at 3 significant digits. Longer operations
// are recorded as 1 h.
const (
	histMinUs  = 1
	histMaxUs  = 3600 * 1e6
	histDigits = 3
)

// Latency summarises operation latencies (completion − start) per f and
// outcome over the measured window. An operation starts at its intended
// start time if it has one (open loop), else at its invocation. Operations
// that never completed have no latency and are left out.
type Latency struct {
	// Throughput is ok operations per second over the measured window.
	Throughput float64 `json:"throughput"`
	// Start and End bound the measured window, in history time (ns). Start
	// is the end of the warmup when the history holds a history.FMeasure
	// marker, else its first record or intended start; End is the last
	// completion of a measured operation.
	Start int64 `json:"start_ns"`
	End   int64 `json:"end_ns"`
	// PerSecond is throughput over time: the ok completions of measured
	// operations in each whole second of the window, bucket i covering
	// [Start + i s, Start + (i+1) s). A last partial second is left out.
	PerSecond []float64 `json:"per_second,omitempty"`
	// Excluded counts the operations that started before Start (a ycsb
	// load phase, the warmup): they are in no figure here.
	Excluded int `json:"excluded,omitempty"`
	// Corrected is set when operations carry intended start times (open
	// loop). Ops are then corrected for coordinated omission, measured from
	// the intended start as wrk2 does, and Uncorrected holds the same
	// figures measured from the actual send.
	Corrected   bool             `json:"corrected,omitempty"`
	Ops         []LatencySummary `json:"ops"` // sorted by f, then outcome
	Uncorrected []LatencySummary `json:"uncorrected,omitempty"`
	Error       string           `json:"error,omitempty"`

	hists       map[latencyKey]*hdrhistogram.Histogram // microseconds
	uncorrected map[latencyKey]*hdrhistogram.Histogram // microseconds; nil unless Corrected
}

// LatencySummary describes the latencies of one f and outcome, in ms.
type LatencySummary struct {
	F       string       `json:"f"`
	Outcome history.Type `json:"outcome"`
	Count   int64        `json:"count"`
	Mean    float64      `json:"mean_ms"`
	P50     float64      `json:"p50_ms"`
	P90     float64      `json:"p90_ms"`
	P99     float64      `json:"p99_ms"`
	P999    float64      `json:"p999_ms"`
	P9999   float64      `json:"p9999_ms"`
	Max     float64      `json:"max_ms"`
}

type latencyKey struct {
	f       string
	outcome history.Type
}

// latency measures the latencies of pairs, the pairing of ops.
func latency(ops []history.Op, pairs []history.Pairing) Latency {
	l := Latency{
		hists:       make(map[latencyKey]*hdrhistogram.Histogram),
		uncorrected: make(map[latencyKey]*hdrhistogram.Histogram),
	}
	l.Start = windowStart(ops)
	l.End = l.Start
	var okAt []int64 // completion times of measured ok operations
	for _, p := range pairs {
		start := p.Invoke.Time
		if p.Invoke.Intended > 0 {
			start = p.Invoke.Intended
			l.Corrected = true
		}
		if start < l.Start {
			l.Excluded++
			continue
		}
		if !p.Completed() {
			continue
		}
		done := p.Completion.Time
		k := latencyKey{p.Invoke.F, p.Completion.Type}
		record(l.hists, k, done-start)
		record(l.uncorrected, k, done-p.Invoke.Time)
		l.End = max(l.End, done)
		if k.outcome == history.OK {
			okAt = append(okAt, done)
		}
	}
	if l.End > l.Start {
		l.Throughput = float64(len(okAt)) / (float64(l.End-l.Start) / 1e9)
	}
	if n := (l.End - l.Start) / 1e9; n > 0 {
		l.PerSecond = make([]float64, n)
		for _, t := range okAt {
			if i := (t - l.Start) / 1e9; i < n {
				l.PerSecond[i]++
			}
		}
	}
	l.Ops = summaries(l.hists)
	if l.Corrected {
		l.Uncorrected = summaries(l.uncorrected)
	} else {
		l.uncorrected = nil // the same figures as hists
	}
	return l
}

// windowStart is where the measured window begins: the end of the warmup
// announced by the last measure marker, else the first record or intended
// start (an open loop's first slot precedes its invocation).
func windowStart(ops []history.Op) int64 {
	first := int64(math.MaxInt64)
	marker := -1
	for i, op := range ops {
		first = min(first, op.Time)
		if op.Intended > 0 {
			first = min(first, op.Intended)
		}
		if op.IsNemesis() && op.F == history.FMeasure {
			marker = i
		}
	}
	if marker < 0 {
		if first == math.MaxInt64 {
			return 0
		}
		return first
	}
	var v struct {
		WarmupNs int64 `json:"warmup_ns"`
	}
	_ = json.Unmarshal(ops[marker].Value, &v) // a marker without a warmup has none
	return ops[marker].Time + max(v.WarmupNs, 0)
}

func record(hists map[latencyKey]*hdrhistogram.Histogram, k latencyKey, ns int64) {
	h := hists[k]
	if h == nil {
		h = hdrhistogram.New(histMinUs, histMaxUs, histDigits)
		hists[k] = h
	}
	_ = h.RecordValue(min(max(ns/1e3, 0), histMaxUs)) // in range by construction
}

func summaries(hists map[latencyKey]*hdrhistogram.Histogram) []LatencySummary {
	var out []LatencySummary
	for k, h := range hists {
		out = append(out, LatencySummary{
			F: k.f, Outcome: k.outcome, Count: h.TotalCount(),
			Mean:  h.Mean() / 1e3,
			P50:   usToMs(h.ValueAtPercentile(50)),
			P90:   usToMs(h.ValueAtPercentile(90)),
			P99:   usToMs(h.ValueAtPercentile(99)),
			P999:  usToMs(h.ValueAtPercentile(99.9)),
			P9999: usToMs(h.ValueAtPercentile(99.99)),
			Max:   usToMs(h.Max()),
		})
	}
	slices.SortFunc(out, func(a, b LatencySummary) int {
		return cmp.Or(cmp.Compare(a.F, b.F), cmp.Compare(a.Outcome, b.Outcome))
	})
	return out
}

// Percentiles returns HdrHistogram's percentile distribution (.hgrm text, in
// ms) of one f and outcome, corrected for coordinated omission when the
// history allows it, or "" if there is none (also after a JSON round trip,
// which keeps only the summaries).
func (l Latency) Percentiles(f string, outcome history.Type) string {
	return hgrm(l.hists[latencyKey{f, outcome}])
}

func hgrm(h *hdrhistogram.Histogram) string {
	if h == nil {
		return ""
	}
	var b strings.Builder
	_, _ = h.PercentilesPrint(&b, 5, 1e3) // a strings.Builder does not fail
	return b.String()
}

func usToMs(us int64) float64 { return float64(us) / 1e3 }
