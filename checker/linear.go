package checker

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/quorumlab/quorumlab/history"
)

// Anomaly kinds.
const (
	// Nonlinearizable: porcupine found no linearization of the key's history.
	Nonlinearizable = "nonlinearizable"
	// Conflict: a read returned several siblings, which no register can.
	Conflict = "conflict"
)

// Linearizability is the result of Linearizable.
type Linearizability struct {
	Verdict   Verdict            `json:"verdict"`
	Keys      map[string]Verdict `json:"keys"`
	Anomalies []Anomaly          `json:"anomalies,omitempty"`
	Error     string             `json:"error,omitempty"`
	// Visualizations holds porcupine's HTML view of each invalid key's
	// history, fault periods shown as annotations.
	Visualizations map[string][]byte `json:"-"`
}

// Anomaly is one kind of violation found on a key.
type Anomaly struct {
	Key   string `json:"key"`
	Kind  string `json:"kind"`
	Count int    `json:"count"` // operations involved
	// Ops are history indexes (of completions, or of invocations that never
	// completed), at most 20. For a nonlinearizable key it is the operation
	// the longest partial linearization could not get past: where to start
	// reading the visualization.
	Ops []int64 `json:"ops"`
}

// Linearizable checks the register operations (read, write) of ops per key
// against a register that starts absent, with porcupine. A timeout > 0 bounds
// the whole check; keys it cuts short are unknown, never valid.
func Linearizable(ctx context.Context, ops []history.Op, timeout time.Duration) Linearizability {
	pairs, err := history.Pair(ops)
	if err != nil {
		return Linearizability{Verdict: Unknown, Error: err.Error()}
	}
	return linearizable(ctx, pairs, history.Faults(ops), timeout, true)
}

func linearizable(ctx context.Context, pairs []history.Pairing, faults []history.Fault, timeout time.Duration, visualize bool) Linearizability {
	keys, err := registerHistories(pairs)
	if err != nil {
		return Linearizability{Verdict: Unknown, Error: err.Error()}
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}

	// Keys are independent; porcupine runs one goroutine per call, so check
	// several keys at once.
	results := make([]keyResult, len(keys))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(keys)) {
		wg.Go(func() {
			for i := range jobs {
				results[i] = checkKey(ctx, keys[i], faults, visualize)
			}
		})
	}
	for i := range keys {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	out := Linearizability{Verdict: Valid, Keys: make(map[string]Verdict, len(keys))}
	for i, r := range results {
		k := keys[i].key
		out.Keys[k] = r.verdict
		out.Verdict = Combine(out.Verdict, r.verdict)
		out.Anomalies = append(out.Anomalies, r.anomalies...)
		if r.visualization != nil {
			if out.Visualizations == nil {
				out.Visualizations = make(map[string][]byte)
			}
			out.Visualizations[k] = r.visualization
		}
	}
	return out
}

// regOp is a porcupine operation's input (and metadata, for visualization).
type regOp struct {
	write bool
	// value is the written value: int64, or absent. Boxed once here so that
	// the model's Step allocates nothing.
	value    any
	invoke   int64 // history index of the invocation
	complete int64 // history index of the completion, -1 if none
	node     string
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
	key       string
	ops       []porcupine.Operation
	conflicts []history.Pairing // reads that returned several siblings
}

// registerHistories turns the client ops into one porcupine history per key,
// sorted by key.
//
// A fail write certainly did not happen and is dropped; so are reads that did
// not return ok, since they constrain nothing. An indeterminate (info or
// never completed) write may take effect at any time after its invocation:
// in porcupine terms it returns at infinity. Two exact refinements keep the
// search small: an indeterminate write whose value no ok read returned is
// dropped (leaving it out of a linearization changes no read), and one whose
// value was read must take effect before the earliest such read returned, so
// it returns then (if no other write wrote the same value).
func registerHistories(pairs []history.Pairing) ([]*keyHistory, error) {
	type pending struct {
		p     history.Pairing
		value int64
	}
	type keyState struct {
		kh      *keyHistory
		pending []pending
		read    map[int64]int64 // value -> earliest return of an ok read of it
		writes  map[int64]int   // value -> writes of it that may have happened
	}
	byKey := make(map[string]*keyState)
	for _, p := range pairs {
		if p.Invoke.F != history.FRead && p.Invoke.F != history.FWrite {
			continue
		}
		ks := byKey[p.Invoke.Key]
		if ks == nil {
			ks = &keyState{kh: &keyHistory{key: p.Invoke.Key}, read: make(map[int64]int64), writes: make(map[int64]int)}
			byKey[p.Invoke.Key] = ks
		}
		op := &regOp{invoke: p.Invoke.Index, complete: p.Completion.Index, node: p.Completion.Node}
		if op.node == "" {
			op.node = p.Invoke.Node
		}
		if p.Invoke.F == history.FWrite {
			if p.Completion.Type == history.Fail {
				continue
			}
			v, err := intValue(p.Invoke)
			if err != nil {
				return nil, fmt.Errorf("write: %w", err)
			}
			op.write, op.value = true, v
			ks.writes[v]++
			if p.Completion.Type != history.OK {
				ks.pending = append(ks.pending, pending{p, v})
				continue
			}
			ks.kh.ops = append(ks.kh.ops, porcupine.Operation{Input: op, Call: p.Invoke.Time, Return: p.Completion.Time, Metadata: op})
			continue
		}
		if p.Completion.Type != history.OK {
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
			if r, ok := ks.read[vs[0]]; !ok || p.Completion.Time < r {
				ks.read[vs[0]] = p.Completion.Time
			}
		default:
			ks.kh.conflicts = append(ks.kh.conflicts, p)
			continue
		}
		ks.kh.ops = append(ks.kh.ops, porcupine.Operation{Input: op, Call: p.Invoke.Time, Output: out, Return: p.Completion.Time, Metadata: op})
	}

	keys := make([]*keyHistory, 0, len(byKey))
	for _, ks := range byKey {
		for _, w := range ks.pending {
			r, ok := ks.read[w.value]
			if !ok {
				continue
			}
			ret := history.Infinity
			if r >= w.p.Invoke.Time && ks.writes[w.value] == 1 { // the read saw this write
				ret = r
			}
			op := &regOp{write: true, value: w.value, invoke: w.p.Invoke.Index, complete: w.p.Completion.Index, node: w.p.Invoke.Node, indeterminate: true}
			ks.kh.ops = append(ks.kh.ops, porcupine.Operation{Input: op, Call: w.p.Invoke.Time, Return: ret, Metadata: op})
		}
		assignLanes(ks.kh.ops)
		keys = append(keys, ks.kh)
	}
	slices.SortFunc(keys, func(a, b *keyHistory) int { return cmp.Compare(a.key, b.key) })
	return keys, nil
}

// assignLanes sets ClientId so that the visualization packs operations into
// few rows: processes are short-lived (a new one after every info), so one
// row per process would be unreadable.
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

// registerModel is a single register per porcupine partition. Steps fail once
// ctx is done, to stop the search promptly; callers must then not trust an
// Illegal result.
func registerModel(ctx context.Context) porcupine.Model {
	step := func(state, input, output any) (bool, any) {
		in := input.(*regOp)
		if in.write {
			return true, in.value
		}
		return output == state, state
	}
	return porcupine.Model{
		Init: func() any { return absent{} },
		Step: step, // used by the visualization, which must not be cut short
		StepContext: func(_ context.Context, state, input, output any) (bool, any) {
			if ctx.Err() != nil {
				return false, state
			}
			return step(state, input, output)
		},
		Hash: func(state any) uint64 {
			if v, ok := state.(int64); ok {
				return uint64(v) * 0x9e3779b97f4a7c15
			}
			return 0
		},
		DescribeOperation: func(input, output any) string {
			in := input.(*regOp)
			if in.write {
				return "write " + describeValue(in.value)
			}
			return "read → " + describeValue(output)
		},
		DescribeState: describeValue,
		DescribeOperationMetadata: func(m any) string {
			op, ok := m.(*regOp)
			if !ok {
				return ""
			}
			s := fmt.Sprintf("history ops %d–%d", op.invoke, op.complete)
			if op.complete < 0 {
				s = fmt.Sprintf("history op %d, never completed", op.invoke)
			}
			if op.node != "" {
				s += ", node " + op.node
			}
			if op.indeterminate {
				s += "; indeterminate, shown ending when its value was first read"
			}
			return s
		},
	}
}

func describeValue(v any) string {
	if _, ok := v.(absent); ok {
		return "absent"
	}
	return fmt.Sprint(v)
}

type keyResult struct {
	verdict       Verdict
	anomalies     []Anomaly
	visualization []byte
}

func checkKey(ctx context.Context, kh *keyHistory, faults []history.Fault, visualize bool) keyResult {
	var r keyResult
	conflict := Valid
	if len(kh.conflicts) > 0 {
		conflict = Invalid
		a := Anomaly{Key: kh.key, Kind: Conflict, Count: len(kh.conflicts)}
		for _, p := range kh.conflicts[:min(len(kh.conflicts), maxExamples)] {
			a.Ops = append(a.Ops, p.Completion.Index)
		}
		r.anomalies = append(r.anomalies, a)
	}

	model := registerModel(ctx)
	lin := porcupineCheck(ctx, model, kh.ops)
	r.verdict = Combine(conflict, lin)
	if r.verdict != Invalid || (lin != Invalid && !visualize) {
		return r
	}

	// Second, verbose pass: collecting partial linearizations slows the search,
	// so only failing keys pay for it.
	timeout, ok := remaining(ctx)
	if !ok {
		if lin == Invalid {
			r.anomalies = append(r.anomalies, Anomaly{Key: kh.key, Kind: Nonlinearizable, Count: 1})
		}
		return r
	}
	_, info := porcupine.CheckOperationsVerbose(model, kh.ops, timeout)
	if lin == Invalid {
		a := Anomaly{Key: kh.key, Kind: Nonlinearizable, Count: 1}
		if i, ok := stuckAt(info, kh.ops); ok {
			a.Ops = []int64{kh.ops[i].Input.(*regOp).index()}
		}
		r.anomalies = append(r.anomalies, a)
	}
	if visualize {
		info.AddAnnotations(annotations(kh, faults))
		var buf bytes.Buffer
		if err := porcupine.Visualize(model, info, &buf); err == nil {
			r.visualization = buf.Bytes()
		}
	}
	return r
}

// porcupineCheck runs porcupine within ctx's deadline.
func porcupineCheck(ctx context.Context, model porcupine.Model, ops []porcupine.Operation) Verdict {
	timeout, ok := remaining(ctx)
	if !ok {
		return Unknown
	}
	switch porcupine.CheckOperationsTimeout(model, ops, timeout) {
	case porcupine.Ok:
		return Valid
	case porcupine.Illegal:
		if ctx.Err() != nil {
			return Unknown // the model's steps failed because ctx ended
		}
		return Invalid
	default:
		return Unknown
	}
}

// remaining is the time left before ctx's deadline (0: none); false if ctx
// is already done.
func remaining(ctx context.Context) (time.Duration, bool) {
	if ctx.Err() != nil {
		return 0, false
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return 0, true
	}
	d := time.Until(dl)
	return d, d > 0
}

// stuckAt returns the index in ops of the operation that returns first among
// those outside porcupine's longest partial linearization: every
// linearization must place it by then, and none could.
func stuckAt(info porcupine.LinearizationInfo, ops []porcupine.Operation) (int, bool) {
	partials := info.PartialLinearizations()
	if len(partials) == 0 || len(partials[0]) == 0 {
		return 0, false
	}
	longest := slices.MaxFunc(partials[0], func(a, b []int) int {
		return cmp.Or(cmp.Compare(len(a), len(b)), slices.Compare(b, a))
	})
	in := make([]bool, len(ops))
	for _, id := range longest {
		in[id] = true
	}
	best := -1
	for i, op := range ops {
		if in[i] {
			continue
		}
		if best < 0 || op.Return < ops[best].Return || (op.Return == ops[best].Return && op.Call < ops[best].Call) {
			best = i
		}
	}
	return best, best >= 0
}

// annotations marks fault periods and conflicting reads, which porcupine's
// history leaves out, on the visualization.
func annotations(kh *keyHistory, faults []history.Fault) []porcupine.Annotation {
	var as []porcupine.Annotation
	for _, f := range faults {
		as = append(as, porcupine.Annotation{
			Tag: "nemesis", Start: f.Start, End: f.End,
			Description: f.Kind, Details: string(f.Value),
			BackgroundColor: "#f8d7da",
		})
	}
	for _, p := range kh.conflicts {
		as = append(as, porcupine.Annotation{
			Tag: "conflicts", Start: p.Invoke.Time, End: p.Completion.Time,
			Description:     "read → " + string(p.Completion.Value),
			Details:         fmt.Sprintf("history ops %d–%d, node %s", p.Invoke.Index, p.Completion.Index, p.Completion.Node),
			BackgroundColor: "#fff3cd",
		})
	}
	return as
}
