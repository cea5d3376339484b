package workload

import (
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/kvnode"
	"github.com/quorumlab/quorumlab/kvnode/version"
	"github.com/quorumlab/quorumlab/target"
)

// startVClockNode serves a one-node vclock kvnode on loopback.
func startVClockNode(t *testing.T) Target {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	cfg := kvnode.DefaultConfig()
	cfg.ID, cfg.Listen, cfg.DataDir = "n1", addr, filepath.Join(t.TempDir(), "n1")
	cfg.PeerListen = "127.0.0.1:0" // one node: no peer dials it
	cfg.Peers = []kvnode.Peer{{ID: "n1", Addr: addr, Weight: 1}}
	cfg.N, cfg.W, cfg.R = 1, 1, 1
	cfg.Mode = version.VClock
	cfg.Fsync = false
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := kvnode.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	c, err := target.Dial(target.KVNode, addr, target.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return Target{Node: "n1", Client: c}
}

// Under vclock a blind write adds a sibling; ycsb updates that read first
// keep each key's version set small.
func TestYCSBUpdatesUnderVClock(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a kvnode")
	}
	tests := []struct {
		readBefore  bool
		minSiblings int // the largest version set must be at least…
		maxSiblings int // …and at most this
	}{
		{readBefore: false, minSiblings: 20, maxSiblings: 1 << 30},
		{readBefore: true, minSiblings: 1, maxSiblings: 4},
	}
	for _, tt := range tests {
		t.Run(map[bool]string{false: "blind", true: "read before update"}[tt.readBefore], func(t *testing.T) {
			target := startVClockNode(t)
			cfg := DefaultConfig()
			cfg.Name, cfg.YCSB, cfg.Distribution = YCSB, "a", Uniform
			cfg.Records, cfg.ValueSize = 10, 16
			cfg.Concurrency, cfg.TimeLimit = 4, 2*time.Second
			cfg.ReadBeforeUpdate = tt.readBefore
			rec, _ := memHistory(t)
			if err := Load(t.Context(), cfg, []Target{target}, rec); err != nil {
				t.Fatal(err)
			}
			if err := Run(t.Context(), cfg, NewPool([]Target{target}), rec); err != nil {
				t.Fatal(err)
			}
			most := 0
			for k := range int64(cfg.Records) {
				res, err := target.Client.Get(t.Context(), ycsbKey(k))
				if err != nil {
					t.Fatal(err)
				}
				most = max(most, len(res.Values))
			}
			t.Logf("largest version set: %d values", most)
			if most < tt.minSiblings || most > tt.maxSiblings {
				t.Fatalf("largest version set has %d values, want %d to %d", most, tt.minSiblings, tt.maxSiblings)
			}
		})
	}
}
