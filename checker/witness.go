package checker

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/quorumlab/quorumlab/history"
)

// Witness kinds: violations a linear pass proves without a search. Each
// assumes what the register workload guarantees, that a value is written at
// most once (by a write, or as a cas's new value); values written more than
// once are never used as evidence. A cas is only ever a writer here.
const (
	// FutureRead: a read returned a value whose write was invoked after the
	// read completed.
	FutureRead = "future-read"
	// RealTimeStaleRead: a read returned v although a write w′ began after v's write
	// had taken effect and completed before the read began.
	RealTimeStaleRead = "stale-read"
	// UnwrittenRead: a read returned a value no operation wrote.
	UnwrittenRead = "unwritten-read"
	// FailedWriteRead: a read returned a value written only by a write (or
	// cas) that failed, which means it certainly did not happen.
	FailedWriteRead = "failed-write-read"
)

// Witness explains one violation in words and by reference to the history.
type Witness struct {
	Kind string `json:"kind"`
	Key  string `json:"key"`
	// Ops are the operations involved, the read that could not have returned
	// what it did first.
	Ops []OpRef `json:"ops"`
	// Faults are the fault periods that overlap the witness, from the first
	// operation's invocation to the last one's completion.
	Faults []string `json:"faults,omitempty"`
	Text   string   `json:"text"`
}

// OpRef names one operation of the history.
type OpRef struct {
	Invoke   int64  `json:"invoke"`   // history index of the invocation
	Complete int64  `json:"complete"` // of the completion, -1 if none
	Process  int    `json:"process"`
	Node     string `json:"node,omitempty"`
	Outcome  string `json:"outcome"`
	// StartMs and EndMs are times since the run started; EndMs is null for
	// an operation that never completed or whose return is unknown.
	StartMs float64  `json:"start_ms"`
	EndMs   *float64 `json:"end_ms"`
	Value   string   `json:"value"`
}

func (r OpRef) String() string {
	end := "?"
	if r.EndMs != nil {
		end = fmt.Sprintf("%.1f", *r.EndMs)
	}
	s := fmt.Sprintf("op %d, process %d", r.Invoke, r.Process)
	if r.Node != "" {
		s += ", node " + r.Node
	}
	return s + fmt.Sprintf(", %s, %.1f–%s ms", r.Outcome, r.StartMs, end)
}

func opRef(op porcupine.Operation, value any) OpRef {
	in := op.Input.(*regOp)
	r := OpRef{Invoke: in.invoke, Complete: in.complete, Process: in.process, Node: in.node, Outcome: string(in.outcome), StartMs: ms(op.Call), Value: describeValue(value)}
	if in.complete >= 0 && !in.indeterminate {
		end := ms(op.Return)
		r.EndMs = &end
	}
	return r
}

// witnesses finds the violations of kh that need no search, in history
// order of the reads. It is O(n log n) in the operations of the key.
// With acked, only acknowledged writes count as done before a read (the
// single-writer model); otherwise an observed indeterminate write is done
// by its first read.
func witnesses(kh *keyHistory, faults []history.Fault, acked bool) []Witness {
	var reads, writes []porcupine.Operation
	byValue := make(map[int64]porcupine.Operation)
	for _, op := range kh.ops {
		in := op.Input.(*regOp)
		if !in.write {
			reads = append(reads, op)
			continue
		}
		if !acked || !in.indeterminate {
			writes = append(writes, op)
		}
		if v := in.value.(int64); !kh.multi[v] {
			byValue[v] = op
		}
	}
	// A write has taken effect by its Return: its completion, or for an
	// observed indeterminate write the first read of its value.
	slices.SortFunc(writes, func(a, b porcupine.Operation) int { return cmp.Compare(a.Return, b.Return) })
	slices.SortFunc(reads, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })

	var out []Witness
	var latest *porcupine.Operation // of the writes done before the read began, the one invoked last
	next := 0
	for _, r := range reads {
		for ; next < len(writes) && writes[next].Return < r.Call; next++ {
			if latest == nil || writes[next].Call > latest.Call {
				latest = &writes[next]
			}
		}
		read := opRef(r, r.Output)
		w := Witness{Key: kh.key, Ops: []OpRef{read}}
		v, isValue := r.Output.(int64)
		switch {
		case isValue && kh.multi[v]:
			continue
		case isValue:
			src, ok := byValue[v]
			if !ok {
				if f, failed := kh.failed[v]; failed {
					w.Kind, w.Ops = FailedWriteRead, append(w.Ops, opRef(f, v))
					what := "write"
					if f.Input.(*regOp).cas {
						what = "cas"
					}
					w.Text = fmt.Sprintf("read (%s) returned %d, written only by a %s that failed (%s): it certainly did not happen", read, v, what, w.Ops[1])
				} else {
					w.Kind = UnwrittenRead
					w.Text = fmt.Sprintf("read (%s) returned %d, which no operation wrote", read, v)
				}
				break
			}
			if src.Call > r.Return {
				w.Kind, w.Ops = FutureRead, append(w.Ops, opRef(src, v))
				w.Text = fmt.Sprintf("read (%s) returned %d, whose write (%s) was invoked after the read completed", read, v, w.Ops[1])
				break
			}
			if latest != nil && latest.Call > src.Return {
				w.Kind, w.Ops = RealTimeStaleRead, append(w.Ops, opRef(src, v), opRef(*latest, latest.Input.(*regOp).value))
				w.Text = fmt.Sprintf("read (%s) returned %d, written by %s; but the write of %s (%s) began after that and completed before the read began, so the read had to see it or a later value",
					read, v, w.Ops[1], w.Ops[2].Value, w.Ops[2])
			}
		default: // absent: the initial value, superseded by every write
			if latest != nil {
				w.Kind, w.Ops = RealTimeStaleRead, append(w.Ops, opRef(*latest, latest.Input.(*regOp).value))
				w.Text = fmt.Sprintf("read (%s) returned nothing, but the write of %s (%s) completed before the read began", read, w.Ops[1].Value, w.Ops[1])
			}
		}
		if w.Kind != "" {
			out = append(out, explainFaults(w, faults))
		}
	}
	slices.SortStableFunc(out, func(a, b Witness) int { return cmp.Compare(a.Ops[0].Complete, b.Ops[0].Complete) })
	return out
}

// explainFaults adds to w the faults active while its operations ran.
func explainFaults(w Witness, faults []history.Fault) Witness {
	from, to := int64(math.MaxInt64), int64(math.MinInt64)
	for _, op := range w.Ops {
		from = min(from, int64(op.StartMs*1e6))
		to = max(to, int64(op.StartMs*1e6))
		if op.EndMs != nil {
			to = max(to, int64(*op.EndMs*1e6))
		}
	}
	w.Faults = activeFaults(faults, from, to)
	if len(w.Faults) > 0 {
		w.Text += "; faults active then: " + strings.Join(w.Faults, "; ")
	}
	return w
}

// activeFaults describes the fault periods that overlap [from, to].
func activeFaults(faults []history.Fault, from, to int64) []string {
	var out []string
	for _, f := range faults {
		if f.Start <= to && f.End >= from {
			out = append(out, fmt.Sprintf("%s %s (%.1f–%.1f ms)", f.Kind, f.Value, ms(f.Start), ms(f.End)))
		}
	}
	return out
}
