package kvnode

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/ring"
)

// A sweep goes on past a full batch until the whole store is scanned, and
// leaves live keys and young tombstones.
func TestSweepTombstones(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ID, cfg.Listen, cfg.DataDir, cfg.Fsync = "n1", "127.0.0.1:0", t.TempDir(), false
	cfg.Peers = []Peer{{ID: "n1", Addr: "127.0.0.1:0", Weight: 1}}
	cfg.N, cfg.W, cfg.R = 1, 1, 1
	cfg.TombstoneGrace = time.Hour
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	old := time.Now().Add(-2 * time.Hour).UnixNano()
	young := time.Now().UnixNano()
	put := func(key string, v *kvpb.Version) {
		t.Helper()
		_, err := n.store.Update(ring.Token([]byte(key)), []byte(key), func(*kvpb.VersionSet) (*kvpb.VersionSet, bool) {
			return &kvpb.VersionSet{Versions: []*kvpb.Version{v}}, true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		put(fmt.Sprintf("dead%d", i), &kvpb.Version{Timestamp: old, Writer: "n1", Tombstone: true})
	}
	for i := range 5 {
		put(fmt.Sprintf("young%d", i), &kvpb.Version{Timestamp: young, Writer: "n1", Tombstone: true})
		put(fmt.Sprintf("live%d", i), &kvpb.Version{Timestamp: old, Writer: "n1", Value: []byte("v")})
	}
	n.upkeep.sweepTombstones(context.Background(), 7)
	left, err := n.store.Count()
	if err != nil {
		t.Fatal(err)
	}
	if left != 10 {
		t.Errorf("%d keys left after one sweep in batches of 7, want the 10 live keys and young tombstones", left)
	}
	var m dto.Metric
	if err := n.met.tombstonesGC.Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetCounter().GetValue(); got != 50 {
		t.Errorf("collected metric %v, want 50", got)
	}
}
