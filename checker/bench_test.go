package checker

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/history"
)

// simRegister generates the history of n register operations by clients
// clients on keys keys against a simulated linearizable store: every
// operation takes effect at one instant inside its interval (an
// indeterminate write: maybe never, maybe later). Every third second is a
// partition, during which operations are slower and more often time out.
func simRegister(seed uint64, n, keys, clients int) []history.Op {
	const (
		ms        = int64(time.Millisecond)
		period    = 3000 * ms
		partition = 1000 * ms // the last part of each period
	)
	rng := rand.New(rand.NewPCG(seed, seed))
	faulty := func(t int64) bool { return t%period >= period-partition }
	type simOp struct {
		proc             int
		key              string
		write            bool
		value            int64
		invoke, at, done int64 // at: when it takes effect
		outcome          history.Type
		applies          bool
		result           []int64
	}
	ops := make([]simOp, 0, n)
	nextValue := int64(0)
	for c := range clients {
		proc, t := c, rng.Int64N(ms)
		for i := range n / clients {
			op := simOp{proc: proc, key: fmt.Sprintf("k%d", rng.IntN(keys)), write: rng.IntN(2) == 0, invoke: t, outcome: history.OK, applies: true}
			dur := ms/5 + rng.Int64N(5*ms)
			timeouts := 0.005
			if faulty(t) {
				timeouts = 0.05
				if rng.Float64() < 0.1 {
					dur = 50*ms + rng.Int64N(450*ms)
				}
			}
			switch r := rng.Float64(); {
			case i == n/clients-1 && c < 3:
				op.outcome = "" // the harness died waiting
			case r < timeouts:
				op.outcome, dur = history.Info, 500*ms
			case r < timeouts+0.005:
				op.outcome, op.applies = history.Fail, false
			}
			op.done = t + dur
			op.at = t + rng.Int64N(dur)
			if op.outcome == history.Info || op.outcome == "" {
				// Took effect, maybe after the client gave up, or never.
				op.applies = rng.IntN(2) == 0
				op.at += rng.Int64N(100 * ms)
			}
			if op.write {
				op.value = nextValue
				nextValue++
			}
			ops = append(ops, op)
			if op.outcome == history.Info {
				proc += clients
			}
			t = op.done + rng.Int64N(ms/2)
		}
	}

	// Apply in effect order to produce read results.
	order := make([]int, len(ops))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(ops[a].at, ops[b].at) })
	state := make(map[string][]int64)
	for _, i := range order {
		op := &ops[i]
		switch {
		case !op.applies:
		case op.write:
			state[op.key] = []int64{op.value}
		default:
			op.result = state[op.key]
		}
	}

	var recs []history.Op
	var end int64
	for _, op := range ops {
		f, v := history.FRead, []byte(nil)
		if op.write {
			f, v = history.FWrite, history.Int(op.value)
		}
		recs = append(recs, history.Op{Time: op.invoke, Process: op.proc, Type: history.Invoke, F: f, Key: op.key, Value: v})
		if op.outcome == "" {
			continue
		}
		c := history.Op{Time: op.done, Process: op.proc, Type: op.outcome, F: f, Key: op.key, Value: v, Node: "n1"}
		if !op.write && op.outcome == history.OK {
			c.Value = history.Ints(op.result)
		}
		recs = append(recs, c)
		end = max(end, op.done)
	}
	for t := period - partition; t < end; t += period {
		recs = append(recs,
			history.Op{Time: t, Process: history.NemesisProcess, Type: history.Info, F: "start-partition", Value: history.JSON(map[string]any{"isolated": []string{"n1"}})},
			history.Op{Time: t + partition, Process: history.NemesisProcess, Type: history.Info, F: "stop-partition", Value: history.JSON(map[string]any{})})
	}
	slices.SortStableFunc(recs, func(a, b history.Op) int { return cmp.Compare(a.Time, b.Time) })
	for i := range recs {
		recs[i].Index = int64(i)
	}
	return recs
}

func TestSimulatedHistory(t *testing.T) {
	ops := simRegister(1, 5000, 4, 8)
	got := Check(context.Background(), ops, Options{Workload: "register", Timeout: time.Minute})
	if got.Verdict != Valid {
		t.Fatalf("simulated linearizable history: %s %+v", got.Verdict, got.Linearizable.Anomalies)
	}

	// Make one read after the first partition return the initial value.
	for i, op := range ops {
		if op.Type == history.OK && op.F == history.FRead && op.Time > 3*int64(time.Second) && len(op.Value) > 2 {
			ops[i].Value = history.Ints(nil)
			break
		}
	}
	got = Check(context.Background(), ops, Options{Workload: "register", Timeout: time.Minute, Visualize: true})
	if got.Verdict != Invalid || len(got.Linearizable.Visualizations) != 1 {
		t.Fatalf("corrupted history: %s, %d visualizations", got.Verdict, len(got.Linearizable.Visualizations))
	}
	if got.Staleness.Stale < 1 {
		t.Errorf("stale reads: %d", got.Staleness.Stale)
	}
}

// BenchmarkCheck100k checks 100k register operations (200k history records)
// of 16 clients on 16 keys.
func BenchmarkCheck100k(b *testing.B) {
	ops := simRegister(1, 100_000, 16, 16)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := Check(context.Background(), ops, Options{Workload: "register", Timeout: time.Minute})
		if r.Verdict != Valid {
			b.Fatalf("verdict %s: %+v", r.Verdict, r.Linearizable.Anomalies)
		}
	}
}
