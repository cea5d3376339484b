package placement

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/ring"
)

func member(id, status string, version uint64) *kvpb.RingMember {
	return &kvpb.RingMember{Id: id, Addr: id + ":7000", Weight: 1, Vnodes: 8, Status: status, Version: version}
}

func statuses(s State) map[string]string {
	out := map[string]string{}
	for id, e := range s {
		out[id] = fmt.Sprintf("%s@%d", e.GetStatus(), e.GetVersion())
	}
	return out
}

func TestRingStateMerge(t *testing.T) {
	tests := []struct {
		name    string
		cur     []*kvpb.RingMember
		in      []*kvpb.RingMember
		want    map[string]string
		changed bool
	}{
		{"new member", nil, []*kvpb.RingMember{member("a", kvpb.StatusMember, 1)},
			map[string]string{"a": "member@1"}, true},
		{"higher version wins", []*kvpb.RingMember{member("a", kvpb.StatusMember, 1)}, []*kvpb.RingMember{member("a", kvpb.StatusLeaving, 2)},
			map[string]string{"a": "leaving@2"}, true},
		{"lower version loses", []*kvpb.RingMember{member("a", kvpb.StatusLeft, 3)}, []*kvpb.RingMember{member("a", kvpb.StatusMember, 2)},
			map[string]string{"a": "left@3"}, false},
		{"same entry: no change", []*kvpb.RingMember{member("a", kvpb.StatusMember, 1)}, []*kvpb.RingMember{member("a", kvpb.StatusMember, 1)},
			map[string]string{"a": "member@1"}, false},
		{"entries without status are gossip-only", nil, []*kvpb.RingMember{member("a", "", 0)},
			map[string]string{}, false},
		{"own entry is not taken from others", []*kvpb.RingMember{member("self", kvpb.StatusMember, 1)}, []*kvpb.RingMember{member("self", kvpb.StatusLeft, 5)},
			map[string]string{"self": "member@1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := State{}
			for _, e := range tt.cur {
				s[e.GetId()] = e
			}
			changed := s.Merge(tt.in, "self")
			if got := statuses(s); !maps.Equal(got, tt.want) || changed != tt.changed {
				t.Fatalf("merge = %v changed %v, want %v changed %v", got, changed, tt.want, tt.changed)
			}
		})
	}
	// The tie-break does not depend on which side merges.
	a, b := State{}, State{}
	a.Merge([]*kvpb.RingMember{member("x", kvpb.StatusJoining, 1)}, "")
	a.Merge([]*kvpb.RingMember{member("x", kvpb.StatusMember, 1)}, "")
	b.Merge([]*kvpb.RingMember{member("x", kvpb.StatusMember, 1)}, "")
	b.Merge([]*kvpb.RingMember{member("x", kvpb.StatusJoining, 1)}, "")
	if !proto.Equal(a["x"], b["x"]) {
		t.Fatalf("merge order matters: %v vs %v", a["x"], b["x"])
	}
}

func TestAdoptSelf(t *testing.T) {
	own := member("self", "", 0)
	moved := member("self", kvpb.StatusMember, 4)
	moved.Addr = "old:7000"
	tests := []struct {
		name    string
		cur     *kvpb.RingMember
		in      *kvpb.RingMember
		want    string
		changed bool
	}{
		// A wiped node learns it is a member, and stays one.
		{"wiped node", nil, member("self", kvpb.StatusMember, 3), "member@3", true},
		// A decommissioned node that lost its disk stays out.
		{"wiped after leaving", nil, member("self", kvpb.StatusLeft, 7), "left@7", true},
		{"older news ignored", member("self", kvpb.StatusMember, 5), member("self", kvpb.StatusJoining, 2), "member@5", false},
		// The cluster knows an old address: take the status, correct the
		// address, and raise the version so the correction spreads.
		{"address changed", nil, moved, "member@5", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := State{}
			if tt.cur != nil {
				s["self"] = tt.cur
			}
			changed := s.AdoptSelf([]*kvpb.RingMember{tt.in, member("other", kvpb.StatusMember, 1)}, own)
			if got := statuses(s)["self"]; got != tt.want || changed != tt.changed {
				t.Fatalf("adoptSelf: self = %s changed %v, want %s changed %v", got, changed, tt.want, tt.changed)
			}
			if s["self"].GetAddr() != own.GetAddr() {
				t.Fatalf("adopted address %s, want this node's %s", s["self"].GetAddr(), own.GetAddr())
			}
			if s["other"] != nil {
				t.Fatal("adoptSelf took another node's entry")
			}
		})
	}
}

func testView(t *testing.T, entries ...*kvpb.RingMember) *View {
	t.Helper()
	s := State{}
	for _, e := range entries {
		s[e.GetId()] = e
	}
	v, err := Build(s, 16)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestBuildView(t *testing.T) {
	v := testView(t, member("a", kvpb.StatusMember, 1), member("b", kvpb.StatusMember, 1), member("c", kvpb.StatusJoining, 1),
		member("d", kvpb.StatusLeaving, 1), member("e", kvpb.StatusLeft, 1))
	ids := func(r *ring.Ring) []string {
		var out []string
		for _, n := range r.Nodes() {
			out = append(out, n.ID)
		}
		return out
	}
	if got := ids(v.Current); !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Errorf("current ring %v, want members and the leaving node", got)
	}
	if got := ids(v.Target); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("target ring %v, want members and the joining node", got)
	}
	if !v.Changing {
		t.Error("View with a joining and a leaving node is not changing")
	}
	if s := v.Status("zzz"); s != kvpb.StatusNone {
		t.Errorf("status of an unknown node = %q, want %q", s, kvpb.StatusNone)
	}
}

func TestPlace(t *testing.T) {
	v := testView(t, member("a", kvpb.StatusMember, 1), member("b", kvpb.StatusMember, 1), member("c", kvpb.StatusMember, 1),
		member("d", kvpb.StatusMember, 1), member("e", kvpb.StatusMember, 1))
	const token = 12345
	ext := v.Current.PreferenceListForToken(token, 5)
	down := func(ids ...string) func(string) bool {
		return func(id string) bool { return !slices.Contains(ids, id) }
	}
	tests := []struct {
		name    string
		sloppy  bool
		live    func(string) bool
		targets []string
		hints   map[string]string
	}{
		{"all up", false, down(), ext[:3], nil},
		{"strict, one home down", false, down(ext[1]), []string{ext[0], ext[2]}, nil},
		{"sloppy, all up", true, down(), ext[:3], nil},
		{"sloppy, one home down", true, down(ext[1]), []string{ext[0], ext[2], ext[3]}, map[string]string{ext[3]: ext[1]}},
		{"sloppy, two homes down, a stand-in down too", true, down(ext[0], ext[2], ext[3]),
			[]string{ext[1], ext[4]}, map[string]string{ext[4]: ext[0]}},
		{"sloppy, every home down", true, down(ext[0], ext[1], ext[2]),
			[]string{ext[3], ext[4]}, map[string]string{ext[3]: ext[0], ext[4]: ext[1]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Place(v, token, 3, tt.sloppy, tt.live)
			if !slices.Equal(p.Home, ext[:3]) {
				t.Errorf("home = %v, want %v", p.Home, ext[:3])
			}
			if !slices.Equal(p.Targets, tt.targets) {
				t.Errorf("targets = %v, want %v", p.Targets, tt.targets)
			}
			if len(p.HintFor) != len(tt.hints) || (len(tt.hints) > 0 && !maps.Equal(p.HintFor, tt.hints)) {
				t.Errorf("hints = %v, want %v", p.HintFor, tt.hints)
			}
			if len(p.Pending) != 0 {
				t.Errorf("pending = %v in a stable ring", p.Pending)
			}
		})
	}
}

func TestPlacePending(t *testing.T) {
	// f joins: writes of the keys it will own also go to it, uncounted.
	v := testView(t, member("a", kvpb.StatusMember, 1), member("b", kvpb.StatusMember, 1), member("c", kvpb.StatusMember, 1),
		member("d", kvpb.StatusMember, 1), member("f", kvpb.StatusJoining, 1))
	all := func(string) bool { return true }
	seen := 0
	for tok := uint64(0); tok < 1<<63; tok += 1 << 57 {
		p := Place(v, tok, 3, false, all)
		willOwn := slices.Contains(v.Target.PreferenceListForToken(tok, 3), "f")
		if slices.Contains(p.Home, "f") || slices.Contains(p.Targets, "f") {
			t.Fatalf("token %d: a joining node counts toward quorums: %+v", tok, p)
		}
		if got := slices.Contains(p.Pending, "f"); got != willOwn {
			t.Fatalf("token %d: f pending = %v, want %v (it will own the key: %v)", tok, got, willOwn, willOwn)
		}
		if willOwn {
			seen++
		}
	}
	if seen == 0 {
		t.Fatal("no sampled token moves to the joining node: the test checks nothing")
	}
}

func TestCovered(t *testing.T) {
	// x joins a ring of four: covered once it pulled from N-W+1 replicas of
	// every range it will own.
	v := testView(t, member("a", kvpb.StatusMember, 1), member("b", kvpb.StatusMember, 1), member("c", kvpb.StatusMember, 1),
		member("d", kvpb.StatusMember, 1), member("x", kvpb.StatusJoining, 1))
	set := func(ids ...string) map[string]bool {
		m := map[string]bool{}
		for _, id := range ids {
			m[id] = true
		}
		return m
	}
	tests := []struct {
		name   string
		n, w   int
		pulled map[string]bool
		want   bool
	}{
		{"nothing pulled", 3, 2, set(), false},
		{"every source", 3, 2, set("a", "b", "c", "d"), true},
		{"all but one, W=2 needs two of three", 3, 2, set("a", "b", "c"), true},
		{"all but one, W=1 needs all three", 3, 1, set("a", "b", "c"), false},
		{"two of four, W=2", 3, 2, set("a", "b"), false},
		{"W=3 needs one", 3, 3, set("a", "c"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Covered(v, "x", tt.n, tt.w, tt.pulled); got != tt.want {
				t.Fatalf("covered = %v, want %v", got, tt.want)
			}
		})
	}
}
