package version

import (
	"testing"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
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
		{"lww old tombstone", LWW, []*kvpb.Version{lww(999, true)}, true},
		{"lww young tombstone", LWW, []*kvpb.Version{lww(1000, true)}, false},
		{"lww old value", LWW, []*kvpb.Version{lww(5, false)}, false},
		{"lww unknown time", LWW, []*kvpb.Version{lww(0, true)}, false},
		{"vclock old tombstones", VClock, []*kvpb.Version{vc(10, true), vc(20, true)}, true},
		{"vclock a young sibling tombstone", VClock, []*kvpb.Version{vc(10, true), vc(2000, true)}, false},
		{"vclock a live sibling", VClock, []*kvpb.Version{vc(10, true), vc(20, false)}, false},
		{"vclock no dot", VClock, []*kvpb.Version{{Tombstone: true}}, false},
		{"linearizable keeps tags", Linearizable, []*kvpb.Version{{Counter: 3, Tombstone: true}}, false},
		{"empty", LWW, nil, false},
		{"no cutoff", LWW, []*kvpb.Version{lww(999, true)}, false},
	}
	for _, c := range cases {
		cut := int64(cutoff)
		if c.name == "no cutoff" {
			cut = 0
		}
		if got := Expired(c.mode, c.vs, cut); got != c.want {
			t.Errorf("%s: expired = %v, want %v", c.name, got, c.want)
		}
	}
}
