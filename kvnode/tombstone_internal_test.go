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

func TestExpired(t *testing.T) {
	const cutoff = 1000
	lww := func(ts int64, tomb bool) *kvpb.Version { return &kvpb.Version{Timestamp: ts, Tombstone: tomb} }
	vc := func(at int64, tomb bool) *kvpb.Version {
		return &kvpb.Version{Dot: &kvpb.ClockEntry{Node: "n1", Counter: 1, Time: at}, Tombstone: tomb}
	}
	cases := []struct {
		name string
		mode Mode
		vs   []*kvpb.Version
		want bool
	}{
		{"lww old tombstone", ModeLWW, []*kvpb.Version{lww(999, true)}, true},
		{"lww young tombstone", ModeLWW, []*kvpb.Version{lww(1000, true)}, false},
		{"lww old value", ModeLWW, []*kvpb.Version{lww(5, false)}, false},
		{"lww unknown time", ModeLWW, []*kvpb.Version{lww(0, true)}, false},
		{"vclock old tombstones", ModeVClock, []*kvpb.Version{vc(10, true), vc(20, true)}, true},
		{"vclock a young sibling tombstone", ModeVClock, []*kvpb.Version{vc(10, true), vc(2000, true)}, false},
		{"vclock a live sibling", ModeVClock, []*kvpb.Version{vc(10, true), vc(20, false)}, false},
		{"vclock no dot", ModeVClock, []*kvpb.Version{{Tombstone: true}}, false},
		{"linearizable keeps tags", ModeLinearizable, []*kvpb.Version{{Counter: 3, Tombstone: true}}, false},
		{"empty", ModeLWW, nil, false},
		{"no cutoff", ModeLWW, []*kvpb.Version{lww(999, true)}, false},
	}
	for _, c := range cases {
		cut := int64(cutoff)
		if c.name == "no cutoff" {
			cut = 0
		}
		if got := expired(c.mode, c.vs, cut); got != c.want {
			t.Errorf("%s: expired = %v, want %v", c.name, got, c.want)
		}
	}
}

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
	n.sweepTombstones(context.Background(), 7)
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
