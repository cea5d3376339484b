package harness_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/results"
	"github.com/quorumlab/quorumlab/workload"
)

// TestYCSBRun benchmarks a healthy local cluster for 5 s: the load phase,
// the measured run, throughput and latencies in the results.
func TestYCSBRun(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*workload.Config)
	}{
		{"a closed loop", func(w *workload.Config) { w.YCSB = "a" }},
		{"d open loop with warmup", func(w *workload.Config) {
			w.YCSB, w.Rate, w.Warmup = "d", 400, time.Second
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := runTest(t, func(c *harness.Config) {
				c.Test = "ycsb"
				c.Nemesis.Faults = nil
				c.Cluster.Nodes = 3
				c.Workload.Name = workload.YCSB
				c.Workload.Records, c.Workload.ValueSize = 500, 1000
				c.Workload.Concurrency, c.Workload.TimeLimit = 8, 5*time.Second
				tt.mutate(&c.Workload)
			})
			r := out.Results
			l := r.Latency
			t.Logf("throughput %.0f ok ops/s, per second %v, excluded %d", l.Throughput, l.PerSecond, l.Excluded)
			for _, s := range l.Ops {
				t.Logf("%s/%s: %d ops, p50 %.2f p99 %.2f p99.9 %.2f max %.2f ms", s.F, s.Outcome, s.Count, s.P50, s.P99, s.P999, s.Max)
			}
			if r.Verdict != checker.Valid || l.Throughput <= 0 || len(l.Ops) == 0 {
				t.Fatalf("verdict %s, throughput %v, latencies %+v", r.Verdict, l.Throughput, l.Ops)
			}
			if len(l.PerSecond) < 3 || l.PerSecond[0] == 0 {
				t.Errorf("throughput per second %v: want one non-zero bucket per measured second", l.PerSecond)
			}
			if l.Excluded < 500 {
				t.Errorf("excluded %d operations: the 500 load inserts must not be measured", l.Excluded)
			}
			if open := tt.name != "a closed loop"; l.Corrected != open || (len(l.Uncorrected) > 0) != open {
				t.Errorf("corrected %v with %d uncorrected summaries; want corrected figures only in open loop", l.Corrected, len(l.Uncorrected))
			}
			ops, _, err := history.ReadFile(filepath.Join(out.Dir, results.HistoryFile))
			if err != nil {
				t.Fatal(err)
			}
			inserts := 0
			for _, op := range ops {
				if !op.IsNemesis() && len(op.Value) > 0 {
					t.Fatalf("ycsb op %d records a value", op.Index)
				}
				if op.F == history.FInsert && op.Type == history.OK {
					inserts++
				}
			}
			if inserts < 500 {
				t.Errorf("%d inserts acknowledged; the load phase alone has 500", inserts)
			}
		})
	}
}
