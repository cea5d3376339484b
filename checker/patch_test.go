package checker

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/anishathalye/porcupine"

	"github.com/quorumlab/quorumlab/history"
)

// randomRegister makes a small register history of n operations on key "k"
// by procs processes: a simulated register where each operation takes effect
// at one instant of its interval (an indeterminate write maybe never),
// then, with probability corrupt, one read returns another value. With dup
// set one value is written twice.
func randomRegister(rng *rand.Rand, n, procs int, corrupt float64, dup bool) []history.Op {
	type simOp struct {
		proc              int
		write             bool
		value             int64
		start, end, at    int64
		outcome           history.Type // "" never completed
		applies           bool
		result            []int64
		resultSet, stored bool
	}
	var ops []simOp
	clock := make([]int64, procs)
	nextProc := procs
	pid := make([]int, procs)
	for i := range procs {
		pid[i] = i
	}
	for i := range n {
		c := rng.IntN(procs)
		start := clock[c] + rng.Int64N(5)
		dur := 1 + rng.Int64N(12)
		op := simOp{proc: pid[c], write: rng.IntN(2) == 0, value: int64(i + 1), start: start, end: start + dur, outcome: history.OK, applies: true}
		switch r := rng.Float64(); {
		case r < 0.15:
			op.outcome = history.Info
		case r < 0.25:
			op.outcome, op.applies = history.Fail, false
		case r < 0.28:
			op.outcome = ""
		}
		op.at = op.start + rng.Int64N(dur)
		if op.outcome == history.Info || op.outcome == "" {
			if op.write {
				op.applies = rng.IntN(2) == 0
				op.at += rng.Int64N(10) // may take effect after the client gave up
			} else {
				op.applies = false // a read that did not return tells nothing
			}
		}
		ops = append(ops, op)
		clock[c] = op.end
		if op.outcome != history.OK && op.outcome != history.Fail {
			pid[c] = nextProc
			nextProc++
			if op.outcome == "" {
				clock[c] = op.end + 1000 // never completed: the process is gone
			}
		}
	}
	if dup {
		var ws []int
		for i, op := range ops {
			if op.write {
				ws = append(ws, i)
			}
		}
		if len(ws) >= 2 {
			ops[ws[1]].value = ops[ws[0]].value
		}
	}
	order := make([]int, len(ops))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(ops[a].at, ops[b].at) })
	var state []int64
	for _, i := range order {
		op := &ops[i]
		switch {
		case !op.applies:
		case op.write:
			state = []int64{op.value}
		default:
			op.result = state
		}
	}
	if rng.Float64() < corrupt {
		var reads []int
		for i, op := range ops {
			if !op.write && op.outcome == history.OK {
				reads = append(reads, i)
			}
		}
		switch {
		case len(reads) >= 2 && rng.IntN(2) == 0: // two reads see each other's value
			a, b := &ops[reads[rng.IntN(len(reads))]], &ops[reads[rng.IntN(len(reads))]]
			a.result, b.result = b.result, a.result
		case len(reads) > 0:
			r := &ops[reads[rng.IntN(len(reads))]]
			if v := rng.Int64N(int64(n) + 1); v == 0 {
				r.result = nil
			} else {
				r.result = []int64{v}
			}
		}
	}

	var recs []history.Op
	for _, op := range ops {
		f, v := history.FRead, []byte(nil)
		if op.write {
			f, v = history.FWrite, history.Int(op.value)
		}
		recs = append(recs, history.Op{Time: op.start, Process: op.proc, Type: history.Invoke, F: f, Key: "k", Value: v})
		if op.outcome == "" {
			continue
		}
		c := history.Op{Time: op.end, Process: op.proc, Type: op.outcome, F: f, Key: "k", Value: v}
		if !op.write {
			c.Value = nil
			if op.outcome == history.OK {
				c.Value = history.Ints(op.result)
			}
		}
		recs = append(recs, c)
	}
	slices.SortStableFunc(recs, func(a, b history.Op) int { return cmp.Compare(a.Time, b.Time) })
	for i := range recs {
		recs[i].Index = int64(i)
	}
	return recs
}

// unpatched is porcupine's verdict on the history as recorded: indeterminate
// writes and cas return at infinity, reads that did not return ok accept
// anything, and only failed writes and cas, which certainly did not write,
// are left out.
func unpatched(t *testing.T, ops []history.Op) Verdict {
	t.Helper()
	pairs, err := history.Pair(ops)
	if err != nil {
		t.Fatal(err)
	}
	type in struct {
		write, cas, any bool
		expected, value any
	}
	var pops []porcupine.Operation
	for _, p := range pairs {
		op := porcupine.Operation{ClientId: p.Invoke.Process, Call: p.Invoke.Time, Return: p.Completion.Time}
		if p.Completion.Type == history.Info {
			op.Return = history.Infinity
		}
		switch p.Invoke.F {
		case history.FWrite:
			if p.Completion.Type == history.Fail {
				continue
			}
			v, _ := p.Invoke.IntValue()
			op.Input = in{write: true, value: v}
		case history.FCas:
			if p.Completion.Type == history.Fail {
				continue
			}
			e, v, _ := p.Invoke.CasValue()
			op.Input = in{cas: true, any: p.Completion.Type != history.OK, expected: e, value: v}
		default:
			op.Input, op.Output = in{any: p.Completion.Type != history.OK}, any(absent{})
			if vs, _ := p.Completion.IntsValue(); len(vs) == 1 {
				op.Output = vs[0]
			}
		}
		pops = append(pops, op)
	}
	model := porcupine.Model{
		Init: func() any { return absent{} },
		Step: func(state, input, output any) (bool, any) {
			i := input.(in)
			switch {
			case i.cas && state == i.expected:
				return true, i.value
			case i.cas:
				return i.any, state // an indeterminate cas may have failed
			case i.write:
				return true, i.value
			case i.any:
				return true, state
			}
			return output == state, state
		},
	}
	if porcupine.CheckOperations(model, pops) {
		return Valid
	}
	return Invalid
}

// TestDecisionMatchesPorcupine: patching, the witnesses and the zone test
// never change a verdict. Each random history is decided by the checker and
// by porcupine on the unpatched history, and the two must agree.
func TestDecisionMatchesPorcupine(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	count := map[string]int{}
	for i := range 20000 {
		ops := randomRegister(rng, 4+rng.IntN(11), 2+rng.IntN(3), 0.5, i%4 == 0)
		want := unpatched(t, ops)
		got := checkLinearizable(context.Background(), ops, Options{})
		if got.Verdict == Unknown && got.Error != "" {
			continue // no read or write left
		}
		by := got.DecidedBy["k"]
		count[fmt.Sprintf("%s/%s", by, want)]++
		if got.Verdict != want {
			t.Fatalf("history %d: checker says %s (decided by %s, anomalies %+v), porcupine on the unpatched history %s\n%s",
				i, got.Verdict, by, got.Anomalies, want, dump(ops))
		}
		// Patching alone, under porcupine, agrees too.
		keys, err := registerHistories(mustPair(t, ops))
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := searchKey(context.Background(), keys[0]); v != want {
			t.Fatalf("history %d: porcupine on the patched history says %s, unpatched %s\n%s", i, v, want, dump(ops))
		}
	}
	t.Logf("decided by/verdict: %v", count)
	for _, c := range []string{"zones/valid", "zones/invalid", "witness/invalid", "search/valid", "search/invalid"} {
		if count[c] < 20 {
			t.Errorf("only %d histories %s: the generator does not exercise that path", count[c], c)
		}
	}
}

func mustPair(t *testing.T, ops []history.Op) []history.Pairing {
	t.Helper()
	p, err := history.Pair(ops)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func dump(ops []history.Op) string {
	var s string
	for _, op := range ops {
		s += fmt.Sprintf("%d t=%d p=%d %s %s %s\n", op.Index, op.Time, op.Process, op.Type, op.F, op.Value)
	}
	return s
}
