package workload

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/history"
)

// TestCoordinatedOmissionCorrection runs the open-loop load generator
// against a real gRPC server that stalls every request for one second, once,
// 1.5 s into the run. A closed-loop view (latency from the actual send) sees
// only the few requests in flight during the stall; the schedule meant to
// send a quarter of the run's requests in that second, and latency measured
// from their intended start shows it.
func TestCoordinatedOmissionCorrection(t *testing.T) {
	if testing.Short() {
		t.Skip("4 s run; skipped with -short")
	}
	var stallFrom, stallTo atomic.Int64 // unix ns; 0: no stall yet
	hold := func() {
		now := time.Now().UnixNano()
		if from, to := stallFrom.Load(), stallTo.Load(); from != 0 && now >= from && now < to {
			time.Sleep(time.Duration(to - now))
		}
	}
	targets := startStub(t, hold, 2)
	rec, read := memHistory(t)

	cfg := DefaultConfig()
	cfg.Name, cfg.YCSB, cfg.Records, cfg.ValueSize = YCSB, "a", 100, 100
	cfg.Concurrency, cfg.Rate, cfg.TimeLimit = 8, 1000, 4*time.Second
	cfg.OpTimeout = 5 * time.Second // longer than the stall: nothing times out
	ctx := context.Background()
	if err := Load(ctx, cfg, targets, rec); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stallFrom.Store(start.Add(1500 * time.Millisecond).UnixNano())
	stallTo.Store(start.Add(2500 * time.Millisecond).UnixNano())
	if err := Run(ctx, cfg, NewPool(targets), rec); err != nil {
		t.Fatal(err)
	}
	ops := read()

	for _, op := range ops {
		if op.IsNemesis() {
			continue
		}
		if len(op.Value) > 0 {
			t.Fatalf("ycsb op %d records a value: %s", op.Index, op.Value)
		}
		measured := op.F != history.FInsert
		if op.Type == history.Invoke && measured != (op.Intended > 0) {
			t.Fatalf("invocation %d: intended %d; want one on every run-phase invocation in open loop, none in the load", op.Index, op.Intended)
		}
		if op.Type != history.Invoke && op.Intended != 0 {
			t.Fatalf("completion %d carries an intended time", op.Index)
		}
	}

	l := checker.Check(context.Background(), ops, checker.Options{Workload: "ycsb"}).Latency
	if !l.Corrected || l.Excluded != cfg.Records {
		t.Fatalf("corrected %v, excluded %d; want corrected, the %d load inserts excluded", l.Corrected, l.Excluded, cfg.Records)
	}
	find := func(sums []checker.LatencySummary, f string) checker.LatencySummary {
		for _, s := range sums {
			if s.F == f && s.Outcome == history.OK {
				return s
			}
		}
		t.Fatalf("no %s/ok latencies in %+v", f, sums)
		return checker.LatencySummary{}
	}
	for _, f := range []string{history.FRead, history.FUpdate} {
		c, u := find(l.Ops, f), find(l.Uncorrected, f)
		t.Logf("%s: %d ops; corrected p50 %.1f p99 %.1f max %.1f ms; uncorrected p50 %.1f p99 %.1f max %.1f ms",
			f, c.Count, c.P50, c.P99, c.Max, u.P50, u.P99, u.Max)
		if c.P99 < 500 {
			t.Errorf("%s: corrected p99 %.1f ms does not reflect the 1 s stall", f, c.P99)
		}
		if u.P99 > 100 {
			t.Errorf("%s: uncorrected p99 %.1f ms: want it to miss the stall (only the requests in flight saw it)", f, u.P99)
		}
		if u.Max < 900 {
			t.Errorf("%s: uncorrected max %.1f ms: the requests in flight during the stall should show it", f, u.Max)
		}
	}
	if n := len(l.PerSecond); n < 3 {
		t.Errorf("throughput series %v: want a bucket per second of the 4 s run", l.PerSecond)
	}
	t.Logf("throughput %.0f ok ops/s; per second %v", l.Throughput, l.PerSecond)
}

// TestOpenLoopKeepsTheRate checks the pacer: against a server that does not
// stall, an open loop at 500 ops/s issues 500 ops/s, intended start times
// one period apart.
func TestOpenLoopKeepsTheRate(t *testing.T) {
	targets := startStub(t, nil, 1)
	rec, read := memHistory(t)
	cfg := DefaultConfig()
	cfg.Name, cfg.YCSB, cfg.Records, cfg.ValueSize = YCSB, "c", 10, 10
	cfg.Concurrency, cfg.Rate, cfg.TimeLimit = 4, 500, time.Second
	if err := Run(context.Background(), cfg, NewPool(targets), rec); err != nil {
		t.Fatal(err)
	}
	var intended []int64
	for _, op := range read() {
		if op.Type == history.Invoke {
			intended = append(intended, op.Intended)
		}
	}
	t.Logf("%d ops in 1 s at 500 ops/s", len(intended))
	if n := len(intended); n < 450 || n > 500 {
		t.Fatalf("%d ops in 1 s at 500 ops/s", n)
	}
	seen := map[int64]bool{}
	for _, at := range intended {
		seen[at] = true
	}
	if len(seen) != len(intended) {
		t.Errorf("%d ops share %d intended start times: slots must be unique", len(intended), len(seen))
	}
}

// The pacer starts nothing at or past the end of the run, even while the
// run's context has not yet noticed its deadline (its timer fires late on a
// loaded machine): on schedule it issues every slot of the run; a slot at
// the end is not issued; once the clock reaches the end, neither overdue
// slots nor closed-loop clients go, also when the clock passes the end
// while a client waits for its slot.
func TestPacerStopsAtTheEnd(t *testing.T) {
	cases := []struct {
		name string
		rate float64
		// clock returns the time, given the pacer, the slots issued so
		// far and how often the current wait has read the clock before.
		clock func(p *pacer, issued, calls int) int64
		want  int
	}{
		{"open loop on schedule", 500, func(p *pacer, issued, _ int) int64 { return p.start + int64(issued)*2e6 }, 500},
		{"open loop just before the end", 500, func(p *pacer, _, _ int) int64 { return p.end - 1 }, 500},
		{"open loop at the end", 500, func(p *pacer, _, _ int) int64 { return p.end }, 0},
		{"open loop, the end passes during the wait", 500, func(p *pacer, _, calls int) int64 {
			if calls == 0 {
				return p.end - 1
			}
			return p.end
		}, 0},
		{"closed loop at the end", 0, func(p *pacer, _, _ int) int64 { return p.end }, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p *pacer
			issued, calls := 0, 0
			p = newPacer([]Phase{{Rate: c.rate, For: time.Second}}, func() int64 {
				if p == nil {
					return 1000 // the pacer's start
				}
				calls++
				return c.clock(p, issued, calls-1)
			})
			for {
				calls = 0
				if _, ok := p.wait(context.Background()); !ok {
					break
				}
				// Fail at once: past the end, each further slot sleeps longer.
				if issued++; issued > c.want {
					t.Fatalf("%d starts, want %d: the pacer issues past the end of the run", issued, c.want)
				}
			}
			if issued != c.want {
				t.Errorf("%d starts, want %d", issued, c.want)
			}
		})
	}
}
