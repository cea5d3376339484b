package checker

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/quorumlab/quorumlab/history"
)

func TestLinearizableCas(t *testing.T) {
	const ok, fail, info = history.OK, history.Fail, history.Info
	tests := []struct {
		name    string
		ops     []history.Op
		want    Verdict
		kinds   []string // anomaly kinds, in order
		by      string   // how the key was decided; "" don't care
		patched Patched
	}{
		{"ok cas swapped", hist(
			write(0, 1, 0, 10, ok),
			cas(1, 1, 2, 20, 30, ok),
			read(2, 40, 50, 2),
		), Valid, nil, bySearch, Patched{}},
		{"failed cas is dropped", hist(
			write(0, 1, 0, 10, ok),
			cas(1, 3, 2, 20, 30, fail),
			read(2, 40, 50, 1),
		), Valid, nil, byZones, Patched{FailedWrites: 1}},
		{"info cas took effect", hist(
			write(0, 1, 0, 10, ok),
			cas(1, 1, 2, 20, 30, info),
			read(2, 40, 50, 2),
		), Valid, nil, bySearch, Patched{ObservedInfoWrites: 1}},
		{"info cas did not take effect", hist(
			write(0, 1, 0, 10, ok),
			cas(1, 1, 2, 20, 30, info),
			read(2, 40, 50, 1),
		), Valid, nil, byZones, Patched{UnobservedInfoWrites: 1}},
		{"info cas that never completed took effect", hist(
			write(0, 1, 0, 10, ok),
			cas(1, 1, 2, 20, 0, ""),
			read(2, 40, 50, 2),
		), Valid, nil, bySearch, Patched{ObservedInfoWrites: 1}},
		{"chain of info cas: the first is expected by the second", hist(
			write(0, 1, 0, 10, ok),
			cas(1, 1, 2, 20, 30, info),
			cas(2, 2, 3, 40, 50, info),
			read(3, 60, 70, 3),
		), Valid, nil, bySearch, Patched{ObservedInfoWrites: 1, OpenInfoWrites: 1}},
		{"ok cas observes an info write", hist(
			write(0, 1, 0, 10, ok),
			write(1, 2, 20, 30, info),
			cas(2, 2, 3, 40, 50, ok),
			read(3, 60, 70, 3),
		), Valid, nil, bySearch, Patched{ObservedInfoWrites: 1}},
		{"a write and a cas write the same value", hist(
			// 2 is written twice: the read of 2 is no stale read of the
			// first write.
			write(0, 2, 0, 10, ok),
			write(0, 3, 20, 30, ok),
			cas(1, 3, 2, 40, 50, ok),
			read(2, 60, 70, 2),
		), Valid, nil, bySearch, Patched{}},
		{"a cas and a later write write the same value", hist(
			// The read of 2 is no future read of the later write.
			write(0, 1, 0, 10, ok),
			cas(1, 1, 2, 20, 30, ok),
			read(2, 40, 50, 2),
			write(0, 2, 60, 70, ok),
		), Valid, nil, bySearch, Patched{}},
		{"concurrent cas, one fails", hist(
			write(0, 1, 0, 10, ok),
			cas(1, 1, 2, 20, 40, ok),
			cas(2, 1, 3, 20, 40, fail),
			read(3, 50, 60, 2),
		), Valid, nil, bySearch, Patched{FailedWrites: 1}},

		{"cas expected a value the register no longer held", hist(
			write(0, 1, 0, 10, ok),
			write(0, 2, 20, 30, ok),
			cas(1, 1, 3, 40, 50, ok),
		), Invalid, []string{Nonlinearizable}, bySearch, Patched{}},
		{"cas on the initial value", hist(
			cas(1, 1, 3, 0, 10, ok),
		), Invalid, []string{Nonlinearizable}, bySearch, Patched{}},
		{"lost update: two cas from the same value both swapped", hist(
			write(0, 1, 0, 10, ok),
			cas(1, 1, 2, 20, 40, ok),
			cas(2, 1, 3, 20, 40, ok),
		), Invalid, []string{Nonlinearizable}, bySearch, Patched{}},
		{"info cas that cannot have swapped was read", hist(
			write(0, 1, 0, 10, ok),
			cas(1, 5, 6, 20, 30, info),
			read(2, 40, 50, 6),
		), Invalid, []string{Nonlinearizable}, bySearch, Patched{ObservedInfoWrites: 1}},
		{"stale read after an ok cas", hist(
			write(0, 1, 0, 10, ok),
			cas(1, 1, 2, 20, 30, ok),
			read(2, 40, 50, 1),
		), Invalid, []string{RealTimeStaleRead}, byWitness, Patched{}},
		{"info cas read, then overwritten, then read again", hist(
			write(0, 1, 0, 10, ok),
			cas(1, 1, 2, 20, 30, info),
			read(2, 40, 50, 2),
			write(0, 3, 60, 70, ok),
			read(2, 80, 90, 2),
		), Invalid, []string{RealTimeStaleRead}, byWitness, Patched{ObservedInfoWrites: 1}},
		{"value of a failed cas read", hist(
			write(0, 1, 0, 10, ok),
			cas(1, 1, 2, 20, 30, fail),
			read(2, 40, 50, 2),
		), Invalid, []string{FailedWriteRead}, byWitness, Patched{FailedWrites: 1}},
		{"value of a cas read before the cas began", hist(
			write(0, 1, 0, 10, ok),
			read(2, 20, 30, 2),
			cas(1, 1, 2, 40, 50, ok),
		), Invalid, []string{FutureRead}, byWitness, Patched{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkLinearizable(context.Background(), tt.ops, Options{Visualize: true})
			if got.Error != "" {
				t.Fatal(got.Error)
			}
			if got.Verdict != tt.want {
				t.Fatalf("verdict %s, want %s (anomalies %+v)", got.Verdict, tt.want, got.Anomalies)
			}
			if want := unpatched(t, tt.ops); want != tt.want {
				t.Fatalf("porcupine on the unpatched history says %s: the case is wrong", want)
			}
			var kinds []string
			for _, a := range got.Anomalies {
				kinds = append(kinds, a.Kind)
			}
			if !equal(kinds, tt.kinds) {
				t.Errorf("anomalies %+v, want kinds %v", got.Anomalies, tt.kinds)
			}
			if tt.by != "" && got.DecidedBy["k"] != tt.by {
				t.Errorf("decided by %s, want %s", got.DecidedBy["k"], tt.by)
			}
			if got.Patched != tt.patched {
				t.Errorf("patched %+v, want %+v", got.Patched, tt.patched)
			}
			vis := got.Visualizations["k"]
			if (tt.want == Invalid) != (len(vis) > 0) {
				t.Errorf("visualization of %d bytes for a %s key", len(vis), tt.want)
			}
			if tt.by == bySearch && tt.want == Invalid && !bytes.Contains(vis, []byte("cas(")) {
				t.Errorf("visualization does not show the cas")
			}
		})
	}
}

func TestDescribeCas(t *testing.T) {
	in := &regOp{write: true, cas: true, expected: int64(3), value: int64(7)}
	if got := registerModel(context.Background()).DescribeOperation(in, nil); got != "cas(3→7)" {
		t.Errorf("described as %q", got)
	}
}

// randomCasRegister is randomRegister with cas: a simulated register where
// each operation takes effect at one instant of its interval (an
// indeterminate one maybe never, maybe later), a cas swapping if the
// register holds its expected value and failing otherwise. With probability
// corrupt one read returns another value or one cas reports the other
// outcome.
func randomCasRegister(rng *rand.Rand, n, procs int, corrupt float64) []history.Op {
	type simOp struct {
		proc             int
		f                string
		expected, value  int64
		start, end, at   int64
		outcome          history.Type // "" never completed
		applies, swapped bool
		result           []int64
	}
	var ops []simOp
	var written []int64
	clock := make([]int64, procs)
	pid := make([]int, procs)
	for i := range procs {
		pid[i] = i
	}
	nextProc := procs
	for i := range n {
		c := rng.IntN(procs)
		start := clock[c] + rng.Int64N(5)
		dur := 1 + rng.Int64N(12)
		op := simOp{proc: pid[c], f: history.FRead, value: int64(i + 1), start: start, end: start + dur, outcome: history.OK, applies: true}
		switch r := rng.Float64(); {
		case r < 0.3:
			op.f = history.FWrite
		case r < 0.6:
			op.f = history.FCas
			op.expected = int64(1 + rng.IntN(n))
			if len(written) > 0 && rng.IntN(4) > 0 {
				op.expected = written[len(written)-1-rng.IntN(min(3, len(written)))]
			}
		}
		if op.f != history.FRead {
			if len(written) > 0 && rng.IntN(10) == 0 {
				op.value = written[rng.IntN(len(written))] // a value written twice
			}
			written = append(written, op.value)
		}
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
			if op.f == history.FRead {
				op.applies = false
			} else {
				op.applies = rng.IntN(2) == 0
				op.at += rng.Int64N(10)
			}
		}
		ops = append(ops, op)
		clock[c] = op.end
		if op.outcome != history.OK && op.outcome != history.Fail {
			pid[c] = nextProc
			nextProc++
			if op.outcome == "" {
				clock[c] = op.end + 1000
			}
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
		case op.f == history.FWrite:
			state = []int64{op.value}
		case op.f == history.FCas:
			op.swapped = len(state) == 1 && state[0] == op.expected
			if op.swapped {
				state = []int64{op.value}
			}
		default:
			op.result = state
		}
	}
	for i := range ops {
		if op := &ops[i]; op.f == history.FCas && op.outcome == history.OK && !op.swapped {
			op.outcome = history.Fail
		}
	}
	if rng.Float64() < corrupt {
		var reads, cases []int
		for i, op := range ops {
			switch {
			case op.f == history.FRead && op.outcome == history.OK:
				reads = append(reads, i)
			case op.f == history.FCas && (op.outcome == history.OK || op.outcome == history.Fail):
				cases = append(cases, i)
			}
		}
		switch {
		case len(cases) > 0 && rng.IntN(2) == 0:
			op := &ops[cases[rng.IntN(len(cases))]]
			op.outcome = map[history.Type]history.Type{history.OK: history.Fail, history.Fail: history.OK}[op.outcome]
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
		var v []byte
		switch op.f {
		case history.FWrite:
			v = history.Int(op.value)
		case history.FCas:
			v = history.Cas(op.expected, op.value)
		}
		recs = append(recs, history.Op{Time: op.start, Process: op.proc, Type: history.Invoke, F: op.f, Key: "k", Value: v})
		if op.outcome == "" {
			continue
		}
		c := history.Op{Time: op.end, Process: op.proc, Type: op.outcome, F: op.f, Key: "k", Value: v}
		if op.f == history.FRead {
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

// TestCasDecisionMatchesPorcupine: with cas in the history, patching and
// the witnesses still never change a verdict.
func TestCasDecisionMatchesPorcupine(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 3))
	count := map[string]int{}
	for i := range 10000 {
		ops := randomCasRegister(rng, 4+rng.IntN(11), 2+rng.IntN(3), 0.5)
		want := unpatched(t, ops)
		got := checkLinearizable(context.Background(), ops, Options{})
		if got.Verdict == Unknown && got.Error != "" {
			continue
		}
		by := got.DecidedBy["k"]
		count[fmt.Sprintf("%s/%s", by, want)]++
		if got.Verdict != want {
			t.Fatalf("history %d: checker says %s (decided by %s, anomalies %+v), porcupine on the unpatched history %s\n%s",
				i, got.Verdict, by, got.Anomalies, want, dump(ops))
		}
		keys, err := registerHistories(mustPair(t, ops))
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := searchKey(context.Background(), keys[0]); v != want {
			t.Fatalf("history %d: porcupine on the patched history says %s, unpatched %s\n%s", i, v, want, dump(ops))
		}
	}
	t.Logf("decided by/verdict: %v", count)
	for _, c := range []string{"witness/invalid", "search/valid", "search/invalid"} {
		if count[c] < 20 {
			t.Errorf("only %d histories %s: the generator does not exercise that path", count[c], c)
		}
	}
}
