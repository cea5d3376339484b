package results

import (
	"slices"

	"github.com/quorumlab/quorumlab/history"
)

// sample is one completed client operation.
type sample struct {
	f       string
	outcome history.Type
	start   float64 // invocation (intended, if open loop), s since the history began
	end     float64 // completion, s
	ms      float64 // latency
	open    bool    // start is the intended start of an open-loop operation
}

// samples returns the completed client operations of ops in invocation
// order, and the span of the history in seconds. Latency runs from the
// operation's start (see Op.Intended) to its completion.
func samples(ops []history.Op) ([]sample, float64, error) {
	pairs, err := history.Pair(ops)
	if err != nil {
		return nil, 0, err
	}
	var span float64
	for _, op := range ops {
		span = max(span, float64(op.Time)/1e9)
	}
	out := make([]sample, 0, len(pairs))
	for _, p := range pairs {
		if !p.Completed() {
			continue
		}
		// An open-loop operation starts when the schedule meant to send it,
		// as the checker measures it (coordinated-omission correction).
		start := p.Invoke.Time
		if p.Invoke.Intended > 0 {
			start = p.Invoke.Intended
		}
		out = append(out, sample{
			f: p.Invoke.F, outcome: p.Completion.Type,
			start: float64(start) / 1e9, end: float64(p.Completion.Time) / 1e9,
			// Clamped above 0 for the log scales.
			ms:   max(float64(p.Completion.Time-start)/1e6, 0.001),
			open: p.Invoke.Intended > 0,
		})
	}
	return out, span, nil
}

// openLoopNote says how start times and latencies are measured when ss
// holds open-loop operations, and returns the X axis label to use.
func openLoopNote(ss []sample) (note, xLabel string) {
	for _, s := range ss {
		if s.open {
			return "Open loop: operations are placed at their intended start and latency is measured from it (corrected for coordinated omission).", "intended start since the beginning (s)"
		}
	}
	return "", "time since start (s)"
}

// functions returns the distinct fs of ss, sorted.
func functions(ss []sample) []string {
	var fs []string
	for _, s := range ss {
		if !slices.Contains(fs, s.f) {
			fs = append(fs, s.f)
		}
	}
	slices.Sort(fs)
	return fs
}

// thin keeps at most limit samples of ss (in the order of ss): every non-ok
// one, since failures are rare and what a reader looks for, then an even
// spread over the ok ones. If the non-ok ones alone exceed limit, they are
// spread evenly too.
func thin(ss []sample, limit int) []sample {
	if len(ss) <= limit {
		return ss
	}
	var ok, other []sample
	for _, s := range ss {
		if s.outcome == history.OK {
			ok = append(ok, s)
		} else {
			other = append(other, s)
		}
	}
	other = spread(other, limit)
	return append(spread(ok, limit-len(other)), other...)
}

// spread picks k elements of xs at evenly spaced indexes.
func spread[T any](xs []T, k int) []T {
	if k >= len(xs) {
		return xs
	}
	out := make([]T, 0, max(k, 0))
	for i := range k {
		out = append(out, xs[i*len(xs)/k])
	}
	return out
}
