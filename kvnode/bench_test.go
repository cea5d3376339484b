package kvnode_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/quorumlab/quorumlab/kvnode"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

// Benchmarks of the whole request path: a 3-node cluster on loopback, N3 W2
// R2, fsync on (the default), benchClients concurrent clients spread over the
// three coordinators, benchKeys keys of benchValueBytes-byte values.
//
//	go test ./kvnode -run xxx -bench . -benchtime 3s
const (
	benchClients    = 16
	benchKeys       = 1000
	benchValueBytes = 100
)

func benchKey(i int) string { return fmt.Sprintf("bench-%04d", i%benchKeys) }

func benchValue(i int) []byte {
	v := bytes.Repeat([]byte{'x'}, benchValueBytes)
	copy(v, fmt.Sprint(i))
	return v
}

// benchOp is one operation by client c (an index into the cluster's
// clients) on operation number i.
type benchOp func(ctx context.Context, cl *client.Client, i int) error

// benchCluster starts a cluster for mode, runs preload (if any) and returns
// it. Clusters are started by the parent benchmark, once per mode, because
// a sub-benchmark's function runs several times while b.N ramps up.
func benchCluster(b *testing.B, mode version.Mode, preload bool) *testCluster {
	b.Helper()
	tc := startCluster(b, 3, func(c *kvnode.Config) {
		c.Mode = mode
		c.N, c.W, c.R = 3, 2, 2
		c.Fsync = true
	})
	if preload {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, benchClients)
		for g := range benchClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < benchKeys; i += benchClients {
					// W=3 so every replica holds the key before reads start.
					if err := tc.clients[g%3].Put(ctx, benchKey(i), benchValue(i), nil, client.WithW(3)); err != nil {
						errs <- fmt.Errorf("preload %s: %w", benchKey(i), err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	return tc
}

// runBench runs b.N operations from benchClients goroutines and reports
// throughput and latency percentiles.
func runBench(b *testing.B, tc *testCluster, op benchOp) {
	ctx := context.Background()
	var next atomic.Int64
	var failed atomic.Bool
	hists := make([]*hdrhistogram.Histogram, benchClients)
	var wg sync.WaitGroup
	b.ResetTimer()
	for g := range benchClients {
		h := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
		hists[g] = h
		cl := tc.clients[g%len(tc.clients)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				start := time.Now()
				err := op(ctx, cl, i)
				us := time.Since(start).Microseconds()
				if err != nil {
					if failed.CompareAndSwap(false, true) {
						b.Errorf("op %d via %s: %v", i, cl.Addr(), err)
					}
					return
				}
				h.RecordValue(max(us, 1))
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	all := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	for _, h := range hists {
		all.Merge(h)
	}
	if int(all.TotalCount()) != b.N && !failed.Load() {
		b.Fatalf("recorded %d latencies for %d ops", all.TotalCount(), b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(all.ValueAtQuantile(50)), "p50-µs")
	b.ReportMetric(float64(all.ValueAtQuantile(99)), "p99-µs")
	b.ReportMetric(float64(all.ValueAtQuantile(99.9)), "p999-µs")
}

// stopCluster stops a mode's nodes before the next mode starts; the
// clients are closed by startCluster's cleanup.
func stopCluster(tc *testCluster) {
	for i := range tc.nodes {
		tc.stop(i)
	}
}

func BenchmarkPut(b *testing.B) {
	put := func(ctx context.Context, cl *client.Client, i int) error {
		err := cl.Put(ctx, benchKey(i), benchValue(i), nil)
		return err
	}
	// vclock: blind writes from an empty context would pile up siblings
	// without bound, so each op is what a vclock client does: read the key
	// for its context, then write with it (two round trips).
	rmw := func(ctx context.Context, cl *client.Client, i int) error {
		res, err := cl.Get(ctx, benchKey(i))
		if err != nil {
			return err
		}
		err = cl.Put(ctx, benchKey(i), benchValue(i), res.Context)
		return err
	}
	tests := []struct {
		name string
		mode version.Mode
		op   benchOp
	}{
		{"lww", version.LWW, put},
		{"linearizable", version.Linearizable, put},
		{"vclock-rmw", version.VClock, rmw},
	}
	for _, tt := range tests {
		tc := benchCluster(b, tt.mode, tt.mode == version.VClock)
		b.Run(tt.name, func(b *testing.B) { runBench(b, tc, tt.op) })
		stopCluster(tc)
	}
}

func BenchmarkGet(b *testing.B) {
	get := func(ctx context.Context, cl *client.Client, i int) error {
		res, err := cl.Get(ctx, benchKey(i))
		if err != nil {
			return err
		}
		if len(res.Values) != 1 || !bytes.Equal(res.Values[0], benchValue(i%benchKeys)) {
			return fmt.Errorf("get %s = %q, want the preloaded value", benchKey(i), res.Values)
		}
		return nil
	}
	for _, mode := range []version.Mode{version.LWW, version.Linearizable, version.VClock} {
		tc := benchCluster(b, mode, true)
		b.Run(string(mode), func(b *testing.B) { runBench(b, tc, get) })
		stopCluster(tc)
	}
}
