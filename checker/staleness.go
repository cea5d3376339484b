package checker

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/quorumlab/quorumlab/history"
)

// Staleness is the result of the staleness check, over the ok reads of the
// register workload. It informs; linearizability decides, so its verdict is
// valid unless the history could not be read.
type Staleness struct {
	Verdict           Verdict     `json:"verdict"`
	Reads             int         `json:"reads"`
	Stale             int         `json:"stale"`
	StaleShare        float64     `json:"stale_share"`
	MaxVersionsBehind int         `json:"max_versions_behind"`
	MaxLagMs          float64     `json:"max_lag_ms"`
	StaleReads        []StaleRead `json:"stale_reads,omitempty"`
	// Visibility is the t-visibility curve; see VisibilityPoint.
	Visibility []VisibilityPoint `json:"visibility"`
	// Delays are the reads that followed a completed write, by how long
	// after it they began: what a predicted curve must be averaged over to
	// compare with Visibility.
	Delays []DelayBucket `json:"delays,omitempty"`
	Error  string        `json:"error,omitempty"`
}

// StaleRead is one read that returned an overwritten value.
type StaleRead struct {
	Key string `json:"key"`
	Op  int64  `json:"op"` // history index of the read's completion
	// VersionsBehind counts the writes that superseded the returned value
	// and had completed before the read was invoked.
	VersionsBehind int `json:"versions_behind"`
	// LagMs is the time from the newest such write's completion to the
	// read's invocation: how long the read had had to see it.
	LagMs float64 `json:"lag_ms"`
}

// VisibilityPoint is one point of the t-visibility curve. For a read r let w
// be the write that completed last before r was invoked, at time c, and
// Δ = invoke(r) − c. Over the reads with Δ ≥ AfterMs (Reads of them),
// FreshShare is the share that were not stale: the probability that a read
// begun t ms after a write completed sees it or something newer.
type VisibilityPoint struct {
	AfterMs    int     `json:"after_ms"`
	Reads      int     `json:"reads"`
	FreshShare float64 `json:"fresh_share"`
}

// DelayBucket counts the reads begun between FromMs and ToMs (exclusive;
// ToMs 0: no bound) after the newest completed write of their key.
type DelayBucket struct {
	FromMs float64 `json:"from_ms"`
	ToMs   float64 `json:"to_ms"`
	Reads  int     `json:"reads"`
	Fresh  int     `json:"fresh"`
}

// delayEdges bound the delay buckets, in ms; the curve's points are among
// them, so each point is a sum of whole buckets.
func delayEdges() []float64 {
	return []float64{0, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}
}

// staleness finds the stale ok reads of the register workload.
//
// A write w (an ok cas is a write of its new value) supersedes an earlier
// write v if w was invoked after v completed, so every linearization orders
// w after v; the initial absent value is superseded by every ok write. A read invoked at t is stale if every value
// it returned is superseded by an ok write that completed before t. Values
// of indeterminate writes have no completion and are never judged stale;
// values never written are left to the linearizability checker.
func staleness(pairs []history.Pairing) Staleness {
	type write struct{ invoke, done int64 }
	type read struct {
		invoke int64 // time
		op     int64 // completion index
		values []int64
	}
	writes := make(map[string][]write)
	written := make(map[string]map[int64]write)
	reads := make(map[string][]read)
	for _, p := range pairs {
		if p.Completion.Type != history.OK {
			continue
		}
		k := p.Invoke.Key
		switch p.Invoke.F {
		case history.FWrite, history.FCas: // an ok cas wrote its new value
			var v int64
			var err error
			if p.Invoke.F == history.FWrite {
				v, err = intValue(p.Invoke)
			} else {
				_, v, err = casValue(p.Invoke)
			}
			if err != nil {
				return Staleness{Verdict: Unknown, Error: fmt.Sprintf("%s: %v", p.Invoke.F, err)}
			}
			w := write{p.Invoke.Time, p.Completion.Time}
			writes[k] = append(writes[k], w)
			if written[k] == nil {
				written[k] = make(map[int64]write)
			}
			written[k][v] = w
		case history.FRead:
			vs, err := intsValue(p.Completion)
			if err != nil {
				return Staleness{Verdict: Unknown, Error: fmt.Sprintf("read: %v", err)}
			}
			reads[k] = append(reads[k], read{p.Invoke.Time, p.Completion.Index, vs})
		}
	}

	res := Staleness{Verdict: Valid}
	type sample struct {
		delta int64 // since the newest completed write; -1 if none had
		fresh bool
	}
	var samples []sample
	for k, rs := range reads {
		ws := writes[k]
		slices.SortFunc(ws, func(a, b write) int { return cmp.Compare(a.done, b.done) })
		for _, r := range rs {
			res.Reads++
			t := r.invoke
			n := sort.Search(len(ws), func(i int) bool { return ws[i].done >= t })
			if n == 0 {
				continue // nothing had completed: any value is fresh, and no Δ
			}
			behind, newest := n, ws[n-1].done // for an absent value
			for _, v := range r.values {
				w, ok := written[k][v]
				if !ok || w.done >= t {
					behind = 0
					break
				}
				// Superseding writes complete after v does: scan from there.
				b, last := 0, int64(0)
				for i := sort.Search(n, func(i int) bool { return ws[i].done > w.done }); i < n; i++ {
					if ws[i].invoke > w.done {
						b, last = b+1, ws[i].done
					}
				}
				if b < behind {
					behind, newest = b, last
				}
			}
			samples = append(samples, sample{t - ws[n-1].done, behind == 0})
			if behind == 0 {
				continue
			}
			sr := StaleRead{Key: k, Op: r.op, VersionsBehind: behind, LagMs: ms(t - newest)}
			res.StaleReads = append(res.StaleReads, sr)
			res.MaxVersionsBehind = max(res.MaxVersionsBehind, sr.VersionsBehind)
			res.MaxLagMs = max(res.MaxLagMs, sr.LagMs)
		}
	}
	slices.SortFunc(res.StaleReads, func(a, b StaleRead) int { return cmp.Compare(a.Op, b.Op) })
	res.Stale = len(res.StaleReads)
	res.StaleShare = share(res.Stale, res.Reads)
	edges := delayEdges()
	for i, from := range edges {
		b := DelayBucket{FromMs: from}
		if i+1 < len(edges) {
			b.ToMs = edges[i+1]
		}
		for _, s := range samples {
			d := ms(s.delta)
			if d >= b.FromMs && (b.ToMs == 0 || d < b.ToMs) {
				b.Reads++
				if s.fresh {
					b.Fresh++
				}
			}
		}
		res.Delays = append(res.Delays, b)
	}
	for _, after := range []int{0, 1, 5, 10, 50, 100, 500, 1000} {
		pt := VisibilityPoint{AfterMs: after}
		fresh := 0
		for _, s := range samples {
			if s.delta >= int64(after)*int64(time.Millisecond) {
				pt.Reads++
				if s.fresh {
					fresh++
				}
			}
		}
		pt.FreshShare = share(fresh, pt.Reads)
		res.Visibility = append(res.Visibility, pt)
	}
	return res
}
