package checker

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/quorumlab/quorumlab/history"
)

// registerModel is a single register per porcupine partition. Steps fail once
// ctx is done, to stop the search promptly; callers must then not trust an
// Illegal result.
func registerModel(ctx context.Context) porcupine.Model {
	step := func(state, input, output any) (bool, any) {
		in := input.(*regOp)
		switch {
		case in.cas:
			if state == in.expected {
				return true, in.value
			}
			// The comparison fails here: an ok cas cannot be placed here,
			// an indeterminate one may have failed (a failed one was
			// dropped before the search).
			return in.outcome != history.OK, state
		case in.write:
			return true, in.value
		}
		return output == state, state
	}
	return porcupine.Model{
		Init: func() any { return absent{} },
		Step: step,
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
			return describeRegOp(input.(*regOp), output)
		},
		DescribeState: describeValue,
		DescribeOperationMetadata: func(m any) string {
			op, ok := m.(*regOp)
			if !ok {
				return ""
			}
			s := fmt.Sprintf("history ops %d–%d, process %d", op.invoke, op.complete, op.process)
			if op.complete < 0 {
				s = fmt.Sprintf("history op %d, process %d, never completed", op.invoke, op.process)
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

// describeRegOp names an operation as the visualization and the witnesses
// show it: "write 3", "cas(3→7)", "read → 3".
func describeRegOp(in *regOp, output any) string {
	switch {
	case in.cas:
		return fmt.Sprintf("cas(%s→%s)", describeValue(in.expected), describeValue(in.value))
	case in.write:
		return "write " + describeValue(in.value)
	}
	return "read → " + describeValue(output)
}

func describeValue(v any) string {
	if _, ok := v.(absent); ok {
		return "absent"
	}
	return fmt.Sprint(v)
}

// search decides kh with porcupine under ctx. An unknown result comes with
// the reason.
func searchKey(ctx context.Context, kh *keyHistory) (Verdict, string) {
	timeout, ok := remaining(ctx)
	if !ok {
		return Unknown, cutShort(ctx)
	}
	switch porcupine.CheckOperationsTimeout(registerModel(ctx), kh.ops, timeout) {
	case porcupine.Ok:
		return Valid, ""
	case porcupine.Illegal:
		if ctx.Err() != nil { // the model's steps failed because ctx ended
			return Unknown, cutShort(ctx)
		}
		return Invalid, ""
	default:
		return Unknown, cutShort(ctx)
	}
}

// cutShort says why a search under ctx stopped early.
func cutShort(ctx context.Context) string {
	cause := context.Cause(ctx)
	switch {
	case cause == nil, errors.Is(cause, context.DeadlineExceeded):
		return "search cut short by the check's time budget"
	case errors.Is(cause, context.Canceled):
		return "search cancelled"
	}
	return "search cut short: " + cause.Error()
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

// maxVisualSteps bounds the linearization steps a visualization may hold:
// porcupine renders it in one uncancellable call, about 100 bytes a step.
const maxVisualSteps = 5_000_000

// visualize runs porcupine's verbose search on an invalid key under ctx and
// renders it, opening at the first error. It returns the index in kh.ops of
// the operation no linearization could get past (-1 if unknown) and the
// page, or why there is none.
func visualize(ctx context.Context, kh *keyHistory, faults []history.Fault) (stuck int, page []byte, why string) {
	timeout, ok := remaining(ctx)
	if !ok {
		return -1, nil, "no visualization: " + cutShort(ctx)
	}
	model := registerModel(ctx)
	res, info := porcupine.CheckOperationsVerbose(model, kh.ops, timeout)
	if ctx.Err() != nil || res == porcupine.Unknown {
		return -1, nil, "no visualization: " + cutShort(ctx)
	}
	stuck = -1
	if res == porcupine.Illegal {
		stuck = stuckAt(info, kh.ops)
	}
	steps := 0
	for _, p := range info.PartialLinearizations() {
		for _, l := range p {
			steps += len(l)
		}
	}
	if steps > maxVisualSteps {
		return stuck, nil, fmt.Sprintf("no visualization: %d linearization steps, more than the %d a page may hold", steps, maxVisualSteps)
	}
	info.AddAnnotations(annotations(kh, faults))
	var buf bytes.Buffer
	if err := porcupine.Visualize(model, info, &buf); err != nil {
		return stuck, nil, fmt.Sprintf("no visualization: %v", err)
	}
	return stuck, openAtFirstError(buf.Bytes()), ""
}

// visualizeWitness renders the operations of w and the writes of every
// value they read: porcupine needs time exponential in the concurrency of a
// history to reject it, so the stretch around a witness can take longer than
// any budget, while the witness's own operations are rejected at once. Such
// a part is a faithful excerpt: a part that keeps the write of every value
// its reads return is linearizable whenever the whole history is, so its
// failure is a proof on its own.
func visualizeWitness(ctx context.Context, kh *keyHistory, w Witness, faults []history.Fault) ([]byte, string) {
	want := make(map[int64]bool) // invocation indexes of w's operations
	for _, op := range w.Ops {
		want[op.Invoke] = true
	}
	var part []porcupine.Operation
	read := make(map[any]bool) // values the part's reads return and its cas expect
	for _, op := range kh.ops {
		if in := op.Input.(*regOp); want[in.invoke] {
			part = append(part, op)
			switch {
			case in.cas:
				read[in.expected] = true
			case !in.write:
				read[op.Output] = true
			}
		}
	}
	// A cas brought in needs the writes of its expected value in turn.
	for added := true; added; {
		added = false
		for _, op := range kh.ops {
			if in := op.Input.(*regOp); in.write && read[in.value] && !want[in.invoke] {
				part, want[in.invoke], added = append(part, op), true, true
				if in.cas {
					read[in.expected] = true
				}
			}
		}
	}
	assignLanes(part)
	_, page, why := visualize(ctx, &keyHistory{key: kh.key, ops: part}, faults)
	return page, why
}

// openAtFirstError makes porcupine's page follow its own "jump to first
// error" link once loaded.
func openAtFirstError(page []byte) []byte {
	const script = `<script>window.addEventListener("load",function(){var j=document.querySelector("#jump-link");if(j)j.click()})</script>`
	i := bytes.LastIndex(page, []byte("</body>"))
	if i < 0 {
		return append(page, script...)
	}
	return slices.Concat(page[:i], []byte(script), page[i:])
}

// stuckAt returns the index in ops of the operation that returns first among
// those outside porcupine's longest partial linearization: every
// linearization must place it by then, and none could. -1 if there is none.
func stuckAt(info porcupine.LinearizationInfo, ops []porcupine.Operation) int {
	partials := info.PartialLinearizations()
	if len(partials) == 0 || len(partials[0]) == 0 {
		return -1
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
	return best
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
