package workload

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/history"
)

// BenchmarkLoadGenerator measures how many operations per second the load
// generator issues from one process, closed loop, against a gRPC server
// that does nothing (on loopback, in the same process: its share of the CPU
// counts against the figure). Each operation is generated, sent, and
// recorded twice in a history file, as in a real run. Reported as ops/s;
// one iteration is a 2 s run.
//
//	go test ./workload -run '^$' -bench LoadGenerator -benchtime 1x
func BenchmarkLoadGenerator(b *testing.B) {
	for _, bc := range []struct {
		ycsb        string
		concurrency int
		conns       int
	}{
		{"c", 1, 1}, {"c", 16, 4}, {"c", 64, 4}, {"c", 256, 4},
		{"a", 64, 4},
	} {
		b.Run(fmt.Sprintf("ycsb=%s/clients=%d/conns=%d", bc.ycsb, bc.concurrency, bc.conns), func(b *testing.B) {
			targets := startStub(b, nil, bc.conns)
			cfg := DefaultConfig()
			cfg.Name, cfg.YCSB = YCSB, bc.ycsb
			cfg.Concurrency, cfg.TimeLimit = bc.concurrency, 2*time.Second
			var ok int64
			var elapsed time.Duration
			for b.Loop() {
				hw, err := history.Create(filepath.Join(b.TempDir(), "history.jsonl"))
				if err != nil {
					b.Fatal(err)
				}
				rec := history.NewRecorder(hw, history.NewClock())
				start := time.Now()
				if err := Run(context.Background(), cfg, NewPool(targets), rec); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
				if err := hw.Close(); err != nil {
					b.Fatal(err)
				}
				ok += rec.Counts()[history.OK]
			}
			b.ReportMetric(float64(ok)/elapsed.Seconds(), "ops/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
