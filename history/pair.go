package history

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Infinity is the completion time of an operation that never completed: it
// may take effect at any time after its invocation.
const Infinity int64 = math.MaxInt64

// FinalHeal is the nemesis event that ends every active fault.
const FinalHeal = "final-heal"

// Pairing is one client operation: its invocation and its completion,
// pointing into the ops it was paired from (a long history is paired
// without copying it).
type Pairing struct {
	Invoke *Op
	// Completion is the ok, fail or info record. For an invocation that never
	// completed it is a made-up info record with Index -1 and Time Infinity.
	Completion *Op
}

// Completed reports whether the history holds the operation's completion.
func (p Pairing) Completed() bool { return p.Completion.Index >= 0 }

// Pair matches every client invocation with its completion, in invocation
// order. Nemesis events are skipped. It fails if a process has two
// operations outstanding, or a completion has no invocation or a different f.
func Pair(ops []Op) ([]Pairing, error) {
	pairs := make([]Pairing, 0, len(ops)/2+1)
	open := make(map[int]int) // process -> index in pairs of its outstanding op
	for j := range ops {
		op := &ops[j]
		if op.IsNemesis() {
			continue
		}
		i, busy := open[op.Process]
		if op.Type == Invoke {
			if busy {
				return nil, fmt.Errorf("op %d: process %d invoked while op %d is outstanding", op.Index, op.Process, pairs[i].Invoke.Index)
			}
			open[op.Process] = len(pairs)
			pairs = append(pairs, Pairing{Invoke: op})
			continue
		}
		if !busy {
			return nil, fmt.Errorf("op %d: %s of process %d without an invocation", op.Index, op.Type, op.Process)
		}
		inv := pairs[i].Invoke
		if op.F != inv.F {
			return nil, fmt.Errorf("op %d: completion f %q does not match invocation %d f %q", op.Index, op.F, inv.Index, inv.F)
		}
		if op.Time < inv.Time {
			return nil, fmt.Errorf("op %d: completed at %d ns, before its invocation %d at %d ns", op.Index, op.Time, inv.Index, inv.Time)
		}
		pairs[i].Completion = op
		delete(open, op.Process)
	}
	for _, i := range open {
		inv := pairs[i].Invoke
		pairs[i].Completion = &Op{
			Index: -1, Time: Infinity, Process: inv.Process, Type: Info,
			F: inv.F, Key: inv.Key, Node: inv.Node,
		}
	}
	return pairs, nil
}

// Fault is a period during which a nemesis fault was active.
type Fault struct {
	Kind  string `json:"kind"`  // "partition" for start-partition ... stop-partition
	Start int64  `json:"start"` // time of the start-<kind> event
	// End is the time of the matching stop-<kind> or final-heal event, or of
	// the last record in the history if the fault was never stopped.
	End   int64           `json:"end"`
	Value json.RawMessage `json:"value,omitempty"` // the start event's description
}

// Faults returns the fault periods of the nemesis events in ops, sorted by
// start. A repeated start of an active kind, or a stop of an inactive one, is
// ignored, so a nemesis may record both the invocation and completion of a
// start event.
func Faults(ops []Op) []Fault {
	var (
		faults []Fault
		last   int64
	)
	active := make(map[string]int) // kind -> index in faults
	for _, op := range ops {
		last = max(last, op.Time)
		if !op.IsNemesis() {
			continue
		}
		switch {
		case op.F == FinalHeal:
			for kind, i := range active {
				faults[i].End = op.Time
				delete(active, kind)
			}
		case strings.HasPrefix(op.F, "start-"):
			kind := strings.TrimPrefix(op.F, "start-")
			if _, ok := active[kind]; ok {
				continue
			}
			active[kind] = len(faults)
			faults = append(faults, Fault{Kind: kind, Start: op.Time, Value: op.Value})
		case strings.HasPrefix(op.F, "stop-"):
			kind := strings.TrimPrefix(op.F, "stop-")
			if i, ok := active[kind]; ok {
				faults[i].End = op.Time
				delete(active, kind)
			}
		}
	}
	for _, i := range active {
		faults[i].End = last
	}
	sort.SliceStable(faults, func(i, j int) bool { return faults[i].Start < faults[j].Start })
	return faults
}
