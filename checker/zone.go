package checker

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/anishathalye/porcupine"

	"github.com/quorumlab/quorumlab/history"
)

// OrderConflict: no order of two writes explains their reads; found by
// comparing zones (see zones).
const OrderConflict = "order-conflict"

// zone is the cluster of one written value: its write and the reads that
// returned it. In every linearization the cluster is one contiguous stretch
// (values are written once), which must cover [f, s] when f < s.
type zone struct {
	value any                  // int64, or absent for the initial value
	write *porcupine.Operation // nil for absent
	f, s  int64                // the earliest return and the latest call in the cluster
	first porcupine.Operation  // the op returning at f
	last  porcupine.Operation  // the op called at s
}

func (z zone) forward() bool { return z.f < z.s }

// zones decides a key without cas whose written values are all distinct,
// every read of which returned a value written no later than it (what
// witnesses checks), exactly and in O(n log n): by Gibbons and Korach's theorem for registers
// with known reads-from ("Testing shared memories", 1997), such a history
// is linearizable if and only if no two forward zones overlap and no
// backward zone lies inside a forward zone. The witnesses returned are the
// conflicting pairs, each a proof on its own.
func zones(kh *keyHistory, faults []history.Fault) []Witness {
	byValue := make(map[any]*zone)
	get := func(v any) *zone {
		z := byValue[v]
		if z == nil {
			z = &zone{value: v, f: math.MaxInt64, s: math.MinInt64}
			if _, ok := v.(absent); ok {
				z.f = math.MinInt64 // the initial value is written before everything
			}
			byValue[v] = z
		}
		return z
	}
	add := func(z *zone, op porcupine.Operation) {
		if op.Return < z.f {
			z.f, z.first = op.Return, op
		}
		if op.Call > z.s {
			z.s, z.last = op.Call, op
		}
	}
	for i, op := range kh.ops {
		in := op.Input.(*regOp)
		if in.write {
			z := get(in.value)
			z.write = &kh.ops[i]
			add(z, op)
			continue
		}
		add(get(op.Output), op)
	}
	var fw, bw []*zone
	for _, z := range byValue {
		if _, ok := z.value.(absent); !ok && z.write == nil {
			continue // read but never written: a witness already
		}
		if z.s == math.MinInt64 {
			continue // absent, never read
		}
		if z.forward() {
			fw = append(fw, z)
		} else {
			bw = append(bw, z)
		}
	}
	slices.SortFunc(fw, func(a, b *zone) int { return cmp.Or(cmp.Compare(a.f, b.f), cmp.Compare(a.s, b.s)) })
	slices.SortFunc(bw, func(a, b *zone) int { return cmp.Compare(a.s, b.s) })

	var out []Witness
	for i := 1; i < len(fw); i++ {
		if fw[i].f < fw[i-1].s { // sorted by f, so fw[i-1].f <= fw[i].f < fw[i].s
			out = append(out, explainFaults(conflict(kh.key, fw[i-1], fw[i]), faults))
		}
	}
	if len(out) > 0 {
		// Forward zones overlap; the search below relies on them not to.
		return out
	}
	for _, b := range bw {
		// The forward zone starting last before b does is the only one that
		// can still be open at b's end: they do not overlap.
		i := sort.Search(len(fw), func(i int) bool { return fw[i].f >= b.s })
		if i > 0 && fw[i-1].s > b.f {
			out = append(out, explainFaults(conflict(kh.key, fw[i-1], b), faults))
		}
	}
	return out
}

// conflict explains why the clusters of a (a forward zone) and b cannot
// both be contiguous: a covers [a.f, a.s], and b ends before it closes and
// begins after it opens.
func conflict(key string, a, b *zone) Witness {
	w := Witness{Kind: OrderConflict, Key: key}
	seen := make(map[*regOp]bool)
	for _, op := range []*porcupine.Operation{&b.last, &b.first, b.write, &a.last, &a.first, a.write} {
		if op == nil || op.Input == nil || seen[op.Input.(*regOp)] {
			continue
		}
		seen[op.Input.(*regOp)] = true
		in := op.Input.(*regOp)
		if in.write {
			w.Ops = append(w.Ops, opRef(*op, in.value))
		} else {
			w.Ops = append(w.Ops, opRef(*op, op.Output))
		}
	}
	stretch := fmt.Sprintf("the initial value was read by op %d (%s), which began at %.3f ms, so nothing may be written before then",
		invokeOf(a.last), describeOp(a.last), ms(a.s))
	if a.write != nil {
		stretch = fmt.Sprintf("value %s (written by op %d) and its reads must be one stretch of any order of the operations, and it spans %.3f–%.3f ms: op %d (%s) completed before op %d (%s) began",
			describeValue(a.value), invokeOf(*a.write), ms(a.f), ms(a.s), invokeOf(a.first), describeOp(a.first), invokeOf(a.last), describeOp(a.last))
	}
	w.Text = fmt.Sprintf("%s. The write of %s (op %d) and its reads must come wholly before or after that, yet op %d (%s) completed at %.3f ms, before %.3f ms, and op %d (%s) began at %.3f ms, after %.3f ms",
		stretch, describeValue(b.value), invokeOf(*b.write), invokeOf(b.first), describeOp(b.first), ms(b.f), ms(a.s), invokeOf(b.last), describeOp(b.last), ms(b.s), ms(max(a.f, 0)))
	return w
}

func invokeOf(op porcupine.Operation) int64 { return op.Input.(*regOp).invoke }

func describeOp(op porcupine.Operation) string {
	return describeRegOp(op.Input.(*regOp), op.Output)
}
