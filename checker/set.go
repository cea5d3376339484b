package checker

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/quorumlab/quorumlab/history"
)

// SetResult is the result of the set check, as Jepsen's set checker reports it.
// Counts are summed over keys; examples are at most 20 each.
type SetResult struct {
	Verdict Verdict `json:"verdict"`
	// Attempted elements were invoked; Acknowledged ones were added ok.
	Attempted    int `json:"attempted"`
	Acknowledged int `json:"acknowledged"`
	// Lost elements were acknowledged but missing from a final read invoked
	// after the add completed.
	Lost         int          `json:"lost"`
	LostExamples []SetElement `json:"lost_examples,omitempty"`
	// Recovered elements had an indeterminate add and are in a final read.
	Recovered         int          `json:"recovered"`
	RecoveredExamples []SetElement `json:"recovered_examples,omitempty"`
	// Unexpected elements are in a final read but were never attempted, or
	// their add failed (fail means it certainly did not happen).
	Unexpected         int          `json:"unexpected"`
	UnexpectedExamples []SetElement `json:"unexpected_examples,omitempty"`
	// Deleted elements were acknowledged, then removed for good by an
	// acknowledged delete of their key that began after the add completed
	// and that no add overlapped.
	Deleted int `json:"deleted,omitempty"`
	// Resurrected elements were deleted, yet a final read shows them.
	// Under history.ModelDeletesFinal that is invalid; otherwise they are
	// reported in Note and not judged.
	Resurrected         int          `json:"resurrected,omitempty"`
	ResurrectedExamples []SetElement `json:"resurrected_examples,omitempty"`
	Note                string       `json:"note,omitempty"`
	Error               string       `json:"error,omitempty"`
}

// SetElement names an element of the set stored at Key.
type SetElement struct {
	Key     string `json:"key"`
	Element int64  `json:"element"`
}

// span is an operation's interval; done is never for an operation that may
// still take effect (info, incomplete).
type span struct{ start, done int64 }

const never = math.MaxInt64

func (a span) overlaps(b span) bool { return a.start < b.done && b.start < a.done }

// setCheck checks the set workload: adds of elements to keys, deletes of
// keys, then final reads (the workload reads only after healing, so every
// ok read is final). It is invalid if an element is lost, unexpected or,
// when deletesFinal (history.ModelDeletesFinal), resurrected, and unknown if
// a key with acknowledged adds has no final read to judge them by.
func setCheck(pairs []history.Pairing, deletesFinal bool) SetResult {
	type add struct {
		outcome history.Type
		done    int64 // completion time
		span    span
	}
	type read struct {
		start int64
		elems map[int64]bool
	}
	adds := make(map[string]map[int64]add)
	reads := make(map[string][]read)
	// Per key: the spans of adds and deletes that may have written (not
	// fail), and of acknowledged deletes.
	writers, deletes, okDeletes := map[string][]span{}, map[string][]span{}, map[string][]span{}
	for _, p := range pairs {
		k := p.Invoke.Key
		sp := span{p.Invoke.Time, never}
		if p.Completion.Type == history.OK {
			sp.done = p.Completion.Time
		}
		switch p.Invoke.F {
		case history.FDelete:
			switch p.Completion.Type {
			case history.OK:
				okDeletes[k] = append(okDeletes[k], sp)
				fallthrough
			case history.Info:
				deletes[k] = append(deletes[k], sp)
			}
		case history.FAdd:
			e, err := intValue(p.Invoke)
			if err != nil {
				return SetResult{Verdict: Unknown, Error: fmt.Sprintf("add: %v", err)}
			}
			if adds[k] == nil {
				adds[k] = make(map[int64]add)
			}
			if p.Completion.Type != history.Fail {
				writers[k] = append(writers[k], sp)
			}
			// An element added twice counts by its best outcome.
			a := add{p.Completion.Type, p.Completion.Time, sp}
			if prev, ok := adds[k][e]; ok && outcomeRank(prev.outcome) > outcomeRank(a.outcome) {
				a = prev
			}
			adds[k][e] = a
		case history.FRead:
			if p.Completion.Type != history.OK {
				continue
			}
			vs, err := intsValue(p.Completion)
			if err != nil {
				return SetResult{Verdict: Unknown, Error: fmt.Sprintf("read: %v", err)}
			}
			r := read{start: p.Invoke.Time, elems: make(map[int64]bool, len(vs))}
			for _, v := range vs {
				r.elems[v] = true
			}
			reads[k] = append(reads[k], r)
		}
	}

	res := SetResult{Verdict: Valid}
	note := func(n *int, ex *[]SetElement, k string, e int64) {
		*n++
		if len(*ex) < maxExamples {
			*ex = append(*ex, SetElement{k, e})
		}
	}
	unjudged := false
	keys := make(map[string]bool)
	for k := range adds {
		keys[k] = true
	}
	for k := range reads {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		// A delete that no add (which rewrites what it read) overlapped
		// removes for good whatever was added before it began.
		var final []span
		for _, d := range okDeletes[k] {
			if !slices.ContainsFunc(writers[k], d.overlaps) {
				final = append(final, d)
			}
		}
		for _, e := range sortedKeys(adds[k]) {
			a := adds[k][e]
			res.Attempted++
			// Any delete not done before the add began may have removed it.
			mayBeDeleted := slices.ContainsFunc(deletes[k], func(d span) bool { return d.done > a.span.start })
			var gone int64 = never // when it was surely gone
			for _, d := range final {
				if a.outcome == history.OK && d.start > a.done {
					gone = min(gone, d.done)
				}
			}
			present, judged, missing, back := false, false, false, false
			for _, r := range reads[k] {
				present = present || r.elems[e]
				if a.outcome == history.OK && r.start > a.done {
					judged = true
					missing = missing || !r.elems[e]
				}
				back = back || (r.elems[e] && r.start > gone)
			}
			switch a.outcome {
			case history.OK:
				res.Acknowledged++
				switch {
				case gone != never:
					res.Deleted++
					if back {
						note(&res.Resurrected, &res.ResurrectedExamples, k, e)
					}
				case missing && !mayBeDeleted:
					note(&res.Lost, &res.LostExamples, k, e)
				}
				unjudged = unjudged || !judged
			case history.Info:
				if present {
					note(&res.Recovered, &res.RecoveredExamples, k, e)
				}
			case history.Fail:
				if present {
					note(&res.Unexpected, &res.UnexpectedExamples, k, e)
				}
			}
		}
		never := make(map[int64]bool)
		for _, r := range reads[k] {
			for e := range r.elems {
				if _, ok := adds[k][e]; !ok {
					never[e] = true
				}
			}
		}
		for _, e := range sortedKeys(never) {
			note(&res.Unexpected, &res.UnexpectedExamples, k, e)
		}
	}
	if res.Resurrected > 0 && !deletesFinal {
		res.Note = fmt.Sprintf("%d deleted elements came back; not judged, since the run did not claim deletes final (weak or sloppy quorums, lww under clock faults, or tombstones collected within the run): a stale read, or a replica that missed a delete whose tombstone is gone, may carry an element back", res.Resurrected)
	}
	switch {
	case res.Lost > 0 || res.Unexpected > 0 || (deletesFinal && res.Resurrected > 0):
		res.Verdict = Invalid
	case unjudged:
		res.Verdict = Unknown
	}
	return res
}

// outcomeRank orders an add's outcomes by how sure we are it happened.
func outcomeRank(t history.Type) int {
	switch t {
	case history.OK:
		return 2
	case history.Info:
		return 1
	default:
		return 0
	}
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
