package checker

import (
	"cmp"
	"fmt"
	"slices"
	"sort"

	"github.com/anishathalye/porcupine"

	"github.com/quorumlab/quorumlab/history"
)

// Patched counts what history patching changed before the search. Every rule
// is exact for a register with unique written values: it changes no verdict,
// only how much porcupine has to try. A cas counts as a write of its new
// value, and a value is observed by an ok read returning it or by a cas
// (ok or indeterminate) expecting it.
type Patched struct {
	// UnobservedInfoWrites are indeterminate writes and cas whose value
	// nothing observed: they can be linearized after everything, so they
	// are dropped.
	UnobservedInfoWrites int `json:"unobserved_info_writes"`
	// ObservedInfoWrites are indeterminate writes and cas whose value an ok
	// read returned or an ok cas expected: they must have taken effect
	// before the earliest such operation returned, which becomes their
	// return.
	ObservedInfoWrites int `json:"observed_info_writes"`
	// OpenInfoWrites were observed, but their value was written more than
	// once, observed before they began or only expected by indeterminate
	// cas: they keep an infinite return.
	OpenInfoWrites int `json:"open_info_writes,omitempty"`
	// FailedWrites are failed writes and cas: they certainly did not write,
	// and are dropped. (A failed cas also says that the register did not
	// hold its expected value at some instant; that evidence is left out,
	// which can only make the check more lenient, never wrong.)
	FailedWrites int `json:"failed_writes"`
	// UninformativeReads (fail or info) constrain nothing and are dropped.
	UninformativeReads int `json:"uninformative_reads"`
}

func (p *Patched) add(q Patched) {
	p.UnobservedInfoWrites += q.UnobservedInfoWrites
	p.ObservedInfoWrites += q.ObservedInfoWrites
	p.OpenInfoWrites += q.OpenInfoWrites
	p.FailedWrites += q.FailedWrites
	p.UninformativeReads += q.UninformativeReads
}

// regOp is a porcupine operation's input (and metadata, for visualization
// and witnesses).
type regOp struct {
	// write: the op writes value, unconditionally or, for a cas, if the
	// register holds expected.
	write bool
	cas   bool
	// value is the written value (a cas's new value), expected a cas's
	// expected one: int64s, boxed once here so that the model's Step
	// allocates nothing.
	value    any
	expected any
	invoke   int64 // history index of the invocation
	complete int64 // history index of the completion, -1 if none
	process  int
	node     string
	outcome  history.Type
	// indeterminate: an info or never-completed write, shown returning when
	// its value was first read.
	indeterminate bool
}

// index is the history index that identifies op in results.
func (op *regOp) index() int64 {
	if op.complete < 0 {
		return op.invoke
	}
	return op.complete
}

// absent is the register's value before the first write.
type absent struct{}

type keyHistory struct {
	key string
	ops []porcupine.Operation
	// conflicts are reads that returned several siblings.
	conflicts []history.Pairing
	// failed maps values to the write that certainly did not write them.
	failed map[int64]porcupine.Operation
	// multi holds values written more than once, on which no witness may
	// rely.
	multi map[int64]bool
	// cas counts the cas operations in ops: the zone test does not model
	// them, so a key with any is searched.
	cas     int
	patched Patched
}

// registerHistories turns the client ops into one patched porcupine history
// per key, sorted by key; see Patched for the rules. An indeterminate write
// that stays in the history returns at infinity: it may take effect at any
// time after its invocation.
func registerHistories(pairs []history.Pairing) ([]*keyHistory, error) {
	type keyState struct {
		kh      *keyHistory
		pending []porcupine.Operation
		read    map[int64]int64 // value -> earliest return of an ok read or ok cas observing it
		needed  map[int64]bool  // values expected by indeterminate cas
		writes  map[int64]int   // value -> writes and cas of it, whatever their outcome
	}
	byKey := make(map[string]*keyState)
	observe := func(ks *keyState, v, at int64) {
		if r, ok := ks.read[v]; !ok || at < r {
			ks.read[v] = at
		}
	}
	for _, p := range pairs {
		f := p.Invoke.F
		if f != history.FRead && f != history.FWrite && f != history.FCas {
			continue
		}
		ks := byKey[p.Invoke.Key]
		if ks == nil {
			kh := &keyHistory{key: p.Invoke.Key, failed: make(map[int64]porcupine.Operation), multi: make(map[int64]bool)}
			ks = &keyState{kh: kh, read: make(map[int64]int64), needed: make(map[int64]bool), writes: make(map[int64]int)}
			byKey[p.Invoke.Key] = ks
		}
		op := &regOp{invoke: p.Invoke.Index, complete: p.Completion.Index, process: p.Invoke.Process, node: p.Completion.Node, outcome: p.Completion.Type}
		if op.node == "" {
			op.node = p.Invoke.Node
		}
		pop := porcupine.Operation{Input: op, Call: p.Invoke.Time, Return: p.Completion.Time, Metadata: op}
		if f == history.FWrite || f == history.FCas {
			var v, expected int64
			var err error
			if f == history.FWrite {
				v, err = intValue(p.Invoke)
			} else {
				expected, v, err = casValue(p.Invoke)
				op.cas, op.expected = true, expected
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			op.write, op.value = true, v
			ks.writes[v]++
			switch p.Completion.Type {
			case history.OK:
				ks.kh.ops = append(ks.kh.ops, pop)
				if op.cas {
					// It swapped, so expected was the register's value at
					// an instant before it returned.
					observe(ks, expected, p.Completion.Time)
					ks.kh.cas++
				}
			case history.Fail:
				ks.kh.failed[v] = pop
				ks.kh.patched.FailedWrites++
			default:
				if op.cas {
					// If it swapped, expected was there: no bound in time,
					// but expected's writer must not be dropped.
					ks.needed[expected] = true
				}
				ks.pending = append(ks.pending, pop)
			}
			continue
		}
		if p.Completion.Type != history.OK {
			ks.kh.patched.UninformativeReads++
			continue
		}
		vs, err := intsValue(p.Completion)
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		var out any = absent{}
		switch len(vs) {
		case 0:
		case 1:
			out = vs[0]
			observe(ks, vs[0], p.Completion.Time)
		default:
			ks.kh.conflicts = append(ks.kh.conflicts, p)
			continue
		}
		pop.Output = out
		ks.kh.ops = append(ks.kh.ops, pop)
	}

	keys := make([]*keyHistory, 0, len(byKey))
	for _, ks := range byKey {
		for v, n := range ks.writes {
			if n > 1 {
				ks.kh.multi[v] = true
			}
		}
		for _, w := range ks.pending {
			op := w.Input.(*regOp)
			v := op.value.(int64)
			r, seen := ks.read[v]
			if !seen && !ks.needed[v] {
				ks.kh.patched.UnobservedInfoWrites++
				continue
			}
			op.indeterminate = true
			w.Return = history.Infinity
			if op.cas {
				ks.kh.cas++
			}
			if seen && r >= w.Call && !ks.kh.multi[v] { // the read saw this write
				w.Return = r
				ks.kh.patched.ObservedInfoWrites++
			} else {
				ks.kh.patched.OpenInfoWrites++
			}
			ks.kh.ops = append(ks.kh.ops, w)
		}
		assignLanes(ks.kh.ops)
		keys = append(keys, ks.kh)
	}
	slices.SortFunc(keys, func(a, b *keyHistory) int { return cmp.Compare(a.key, b.key) })
	return keys, nil
}

// assignLanes sorts ops by call and sets ClientId so that the visualization
// packs operations into few rows: processes are short-lived (a new one after
// every info), so one row per process would be unreadable.
func assignLanes(ops []porcupine.Operation) {
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Call < ops[j].Call })
	var free []int64 // per lane, when its last operation returned
	for i := range ops {
		lane := slices.IndexFunc(free, func(end int64) bool { return end < ops[i].Call })
		if lane < 0 {
			lane = len(free)
			free = append(free, 0)
		}
		free[lane] = ops[i].Return
		ops[i].ClientId = lane
	}
}
