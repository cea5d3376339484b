package version

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/vclock"
)

func lwwV(ts int64, writer, value string) *kvpb.Version {
	return &kvpb.Version{Timestamp: ts, Writer: writer, Value: []byte(value)}
}

func linV(counter uint64, writer, value string) *kvpb.Version {
	return &kvpb.Version{Counter: counter, Writer: writer, Value: []byte(value)}
}

func tombstone(v *kvpb.Version) *kvpb.Version {
	v = proto.Clone(v).(*kvpb.Version)
	v.Value, v.Tombstone = nil, true
	return v
}

// entries parses "n1:2,n2:1" into clock entries (Time = counter).
func entries(s string) []*kvpb.ClockEntry {
	if s == "" {
		return nil
	}
	var es []*kvpb.ClockEntry
	for _, part := range strings.Split(s, ",") {
		node, c, ok := strings.Cut(part, ":")
		n, err := strconv.ParseUint(c, 10, 64)
		if !ok || err != nil {
			panic("bad clock " + s)
		}
		es = append(es, &kvpb.ClockEntry{Node: node, Counter: n, Time: int64(n)})
	}
	return es
}

// vcV is a vclock version: its dot ("n1:3") and causal past ("n1:2,n2:1").
func vcV(value, dot, past string) *kvpb.Version {
	return &kvpb.Version{Value: []byte(value), Dot: entries(dot)[0], Clock: entries(past)}
}

func dotString(v *kvpb.Version) string {
	return v.GetDot().GetNode() + ":" + strconv.FormatUint(v.GetDot().GetCounter(), 10)
}

// dotsOf returns the dots of vs, sorted.
func dotsOf(vs []*kvpb.Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = dotString(v)
	}
	slices.Sort(out)
	return out
}

func dotsInOrder(vs []*kvpb.Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = dotString(v)
	}
	return out
}

func concat(a, b []*kvpb.Version) []*kvpb.Version {
	return append(append([]*kvpb.Version(nil), a...), b...)
}

func TestMergeSingleVersion(t *testing.T) {
	const (
		lww = LWW
		lin = Linearizable
	)
	a := lwwV(10, "n1", "a")
	tests := []struct {
		name    string
		mode    Mode
		cur, in []*kvpb.Version
		want    *kvpb.Version // nil: no version
		changed bool
	}{
		{"lww: nothing", lww, nil, nil, nil, false},
		{"lww: first write", lww, nil, []*kvpb.Version{a}, a, true},
		{"lww: nothing incoming", lww, []*kvpb.Version{a}, nil, a, false},
		{"lww: newer timestamp wins", lww, []*kvpb.Version{lwwV(10, "n1", "old")}, []*kvpb.Version{lwwV(20, "n1", "new")}, lwwV(20, "n1", "new"), true},
		{"lww: older timestamp loses", lww, []*kvpb.Version{lwwV(20, "n1", "new")}, []*kvpb.Version{lwwV(10, "n1", "old")}, lwwV(20, "n1", "new"), false},
		{"lww: older timestamp loses to a lower writer", lww, []*kvpb.Version{lwwV(20, "n1", "new")}, []*kvpb.Version{lwwV(19, "n9", "old")}, lwwV(20, "n1", "new"), false},
		{"lww: tie, higher writer incoming wins", lww, []*kvpb.Version{lwwV(10, "n1", "x")}, []*kvpb.Version{lwwV(10, "n2", "y")}, lwwV(10, "n2", "y"), true},
		{"lww: tie, lower writer incoming loses", lww, []*kvpb.Version{lwwV(10, "n2", "y")}, []*kvpb.Version{lwwV(10, "n1", "x")}, lwwV(10, "n2", "y"), false},
		{"lww: identical version is no change", lww, []*kvpb.Version{a}, []*kvpb.Version{proto.Clone(a).(*kvpb.Version)}, a, false},
		{"lww: highest of several incoming", lww, []*kvpb.Version{lwwV(10, "n1", "a")},
			[]*kvpb.Version{lwwV(15, "n1", "b"), lwwV(30, "n1", "c"), lwwV(20, "n3", "d")}, lwwV(30, "n1", "c"), true},
		{"lww: current stays against several older", lww, []*kvpb.Version{lwwV(40, "n1", "a")},
			[]*kvpb.Version{lwwV(15, "n1", "b"), lwwV(30, "n3", "c")}, lwwV(40, "n1", "a"), false},
		{"lww: newer tombstone deletes", lww, []*kvpb.Version{lwwV(10, "n1", "v")}, []*kvpb.Version{tombstone(lwwV(20, "n2", ""))}, tombstone(lwwV(20, "n2", "")), true},
		{"lww: older tombstone is ignored", lww, []*kvpb.Version{lwwV(20, "n1", "v")}, []*kvpb.Version{tombstone(lwwV(10, "n2", ""))}, lwwV(20, "n1", "v"), false},
		{"lww: ignores counters", lww, []*kvpb.Version{{Timestamp: 20, Counter: 1, Writer: "n1"}}, []*kvpb.Version{{Timestamp: 10, Counter: 99, Writer: "n1"}},
			&kvpb.Version{Timestamp: 20, Counter: 1, Writer: "n1"}, false},
		{"lww: full tag tie falls back to the value", lww, []*kvpb.Version{lwwV(10, "n1", "a")}, []*kvpb.Version{lwwV(10, "n1", "b")}, lwwV(10, "n1", "b"), true},
		{"lww: full tag tie, tombstone wins", lww, []*kvpb.Version{lwwV(10, "n1", "a")}, []*kvpb.Version{tombstone(lwwV(10, "n1", ""))}, tombstone(lwwV(10, "n1", "")), true},

		{"linearizable: first write", lin, nil, []*kvpb.Version{linV(1, "n1", "a")}, linV(1, "n1", "a"), true},
		{"linearizable: higher counter wins", lin, []*kvpb.Version{linV(1, "n3", "a")}, []*kvpb.Version{linV(2, "n1", "b")}, linV(2, "n1", "b"), true},
		{"linearizable: lower counter loses", lin, []*kvpb.Version{linV(5, "n1", "b")}, []*kvpb.Version{linV(4, "n3", "a")}, linV(5, "n1", "b"), false},
		{"linearizable: ignores timestamps", lin, []*kvpb.Version{{Counter: 1, Timestamp: 100, Writer: "n1"}}, []*kvpb.Version{{Counter: 2, Timestamp: 1, Writer: "n1"}},
			&kvpb.Version{Counter: 2, Timestamp: 1, Writer: "n1"}, true},
		{"linearizable: tie, higher writer wins", lin, []*kvpb.Version{linV(3, "n1", "x")}, []*kvpb.Version{linV(3, "n2", "y")}, linV(3, "n2", "y"), true},
		{"linearizable: tie, lower writer loses", lin, []*kvpb.Version{linV(3, "n2", "y")}, []*kvpb.Version{linV(3, "n1", "x")}, linV(3, "n2", "y"), false},
		{"linearizable: identical version is no change", lin, []*kvpb.Version{linV(7, "n2", "v")}, []*kvpb.Version{linV(7, "n2", "v")}, linV(7, "n2", "v"), false},
		{"linearizable: write-back of an older tag is no change", lin, []*kvpb.Version{linV(7, "n2", "v")}, []*kvpb.Version{linV(6, "n2", "u"), linV(7, "n1", "w")}, linV(7, "n2", "v"), false},
		{"linearizable: tombstone with a higher tag", lin, []*kvpb.Version{linV(1, "n1", "v")}, []*kvpb.Version{tombstone(linV(2, "n1", ""))}, tombstone(linV(2, "n1", "")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(what string, out []*kvpb.Version) {
				t.Helper()
				if tt.want == nil {
					if len(out) != 0 {
						t.Fatalf("%s = %v, want no version", what, out)
					}
					return
				}
				if len(out) != 1 || !proto.Equal(out[0], tt.want) {
					t.Fatalf("%s = %v, want [%v]", what, out, tt.want)
				}
			}
			out, changed := Merge(tt.mode, tt.cur, tt.in)
			check("merge(cur, in)", out)
			if changed != tt.changed {
				t.Fatalf("changed = %v, want %v", changed, tt.changed)
			}
			// Every replica converges on the same winner whatever the order.
			rev, _ := Merge(tt.mode, tt.in, tt.cur)
			check("merge(in, cur)", rev)
			one, _ := Merge(tt.mode, nil, concat(tt.in, tt.cur))
			check("merge(nil, in+cur)", one)
			// Idempotent: merging in what was already merged changes nothing.
			for _, again := range [][]*kvpb.Version{out, tt.cur, tt.in} {
				if out2, ch := Merge(tt.mode, out, again); ch {
					t.Fatalf("merge(out, %v) reported a change: %v", again, out2)
				}
			}
			if tt.want != nil && !SameTag(tt.mode, out, []*kvpb.Version{tt.want}) {
				t.Fatalf("SameTag(out, want) = false")
			}
		})
	}
}

func TestMergeVClock(t *testing.T) {
	a := vcV("a", "n1:1", "")
	tests := []struct {
		name    string
		cur, in []*kvpb.Version
		want    []string // surviving dots
		changed bool
	}{
		{"nothing", nil, nil, nil, false},
		{"first write", nil, []*kvpb.Version{a}, []string{"n1:1"}, true},
		{"nothing incoming", []*kvpb.Version{a}, nil, []string{"n1:1"}, false},
		{"descendant replaces ancestor", []*kvpb.Version{a}, []*kvpb.Version{vcV("b", "n1:2", "n1:1")}, []string{"n1:2"}, true},
		{"ancestor arriving late is dropped", []*kvpb.Version{vcV("b", "n1:2", "n1:1")}, []*kvpb.Version{a}, []string{"n1:2"}, false},
		{"same node, same context: siblings", []*kvpb.Version{a}, []*kvpb.Version{vcV("b", "n1:2", "")}, []string{"n1:1", "n1:2"}, true},
		{"same node, same non-empty context: siblings", []*kvpb.Version{vcV("b", "n1:2", "n2:1")}, []*kvpb.Version{vcV("c", "n1:3", "n2:1")}, []string{"n1:2", "n1:3"}, true},
		{"different nodes, concurrent", []*kvpb.Version{a}, []*kvpb.Version{vcV("c", "n2:1", "")}, []string{"n1:1", "n2:1"}, true},
		{"duplicate dot", []*kvpb.Version{a}, []*kvpb.Version{vcV("a", "n1:1", "")}, []string{"n1:1"}, false},
		{"duplicate dot twice in the input", nil, []*kvpb.Version{a, vcV("a", "n1:1", "")}, []string{"n1:1"}, true},
		{"siblings arriving again", []*kvpb.Version{a, vcV("b", "n1:2", "")}, []*kvpb.Version{vcV("b", "n1:2", ""), a}, []string{"n1:1", "n1:2"}, false},
		{"reconciling write supersedes every sibling",
			[]*kvpb.Version{a, vcV("b", "n1:2", ""), vcV("c", "n2:1", "")},
			[]*kvpb.Version{vcV("d", "n3:1", "n1:2,n2:1")}, []string{"n3:1"}, true},
		{"partial cover keeps the unseen sibling",
			[]*kvpb.Version{a, vcV("c", "n2:1", "")},
			[]*kvpb.Version{vcV("d", "n1:2", "n1:1")}, []string{"n1:2", "n2:1"}, true},
		{"covered through another node's entry", []*kvpb.Version{a}, []*kvpb.Version{vcV("d", "n2:5", "n1:3")}, []string{"n2:5"}, true},
		{"entry below the dot does not cover", []*kvpb.Version{vcV("a", "n1:5", "")}, []*kvpb.Version{vcV("d", "n2:1", "n1:4")}, []string{"n1:5", "n2:1"}, true},
		{"several incoming replace one", []*kvpb.Version{a},
			[]*kvpb.Version{vcV("b", "n1:2", "n1:1"), vcV("c", "n2:1", "n1:1")}, []string{"n1:2", "n2:1"}, true},
		{"incoming partly obsolete", []*kvpb.Version{vcV("b", "n1:2", "n1:1")},
			[]*kvpb.Version{a, vcV("c", "n2:1", "")}, []string{"n1:2", "n2:1"}, true},
		{"tombstone supersedes like any write", []*kvpb.Version{a},
			[]*kvpb.Version{{Tombstone: true, Dot: entries("n2:1")[0], Clock: entries("n1:1")}}, []string{"n2:1"}, true},
		{"tombstone concurrent with a write stays a sibling", []*kvpb.Version{a},
			[]*kvpb.Version{{Tombstone: true, Dot: entries("n2:1")[0]}}, []string{"n1:1", "n2:1"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed := Merge(VClock, tt.cur, tt.in)
			if got := dotsOf(out); !slices.Equal(got, tt.want) && len(got)+len(tt.want) > 0 {
				t.Fatalf("merge(cur, in) dots = %v, want %v", got, tt.want)
			}
			if changed != tt.changed {
				t.Fatalf("changed = %v, want %v", changed, tt.changed)
			}
			if !changed && !slices.Equal(dotsInOrder(out), dotsInOrder(tt.cur)) {
				t.Fatalf("unchanged merge returned %v, want the current set %v", dotsInOrder(out), dotsInOrder(tt.cur))
			}
			// Order-independent: the same dots whichever side arrives first.
			orders := map[string][]*kvpb.Version{
				"merge(nil, in+cur)": first(Merge(VClock, nil, concat(tt.in, tt.cur))),
				"merge(nil, cur+in)": first(Merge(VClock, nil, concat(tt.cur, tt.in))),
			}
			// The current set is always one mergeVersions produced, so it
			// never holds a dot twice; only then may in take its place.
			if !hasDuplicateDot(tt.in) {
				orders["merge(in, cur)"] = first(Merge(VClock, tt.in, tt.cur))
			}
			for name, o := range orders {
				if got := dotsOf(o); !slices.Equal(got, dotsOf(out)) {
					t.Fatalf("%s dots = %v, merge(cur, in) = %v", name, got, dotsOf(out))
				}
			}
			// Idempotent: nothing already merged changes the result again.
			for _, again := range [][]*kvpb.Version{out, tt.cur, tt.in} {
				if out2, ch := Merge(VClock, out, again); ch || !slices.Equal(dotsInOrder(out2), dotsInOrder(out)) {
					t.Fatalf("merge(out, %v) = %v, changed %v; want out unchanged", dotsInOrder(again), dotsInOrder(out2), ch)
				}
			}
			// A read's context supersedes every version merged, surviving or not.
			ctx := FromClock(ReadContext(out))
			for _, v := range concat(tt.cur, tt.in) {
				if !covers(ctx, v.GetDot()) {
					t.Fatalf("readContext %v does not cover dot %s", ReadContext(out), dotString(v))
				}
			}
		})
	}
}

func first[A, B any](a A, _ B) A { return a }

func hasDuplicateDot(vs []*kvpb.Version) bool {
	seen := map[string]bool{}
	for _, v := range vs {
		if seen[dotString(v)] {
			return true
		}
		seen[dotString(v)] = true
	}
	return false
}

// TestMergeVClockSimulated runs random histories the way the coordinator
// writes (a client reads some replica for its context, a coordinator applies
// the new version to its own copy, then ships its whole set to others) and
// checks the merge against a brute-force answer: after all replicas are
// merged, exactly the writes whose dot no other write's past covers survive.
func TestMergeVClockSimulated(t *testing.T) {
	tests := []struct {
		seed             uint64
		replicas, writes int
		blindPct         int // percent of writes made without reading first
	}{
		{1, 3, 50, 25},
		{2, 3, 200, 50},
		{3, 5, 300, 10},
		{4, 2, 100, 100},
		{5, 5, 400, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("seed%d-r%d-w%d-blind%d", tt.seed, tt.replicas, tt.writes, tt.blindPct), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tt.seed, 7))
			reps := make([][]*kvpb.Version, tt.replicas)
			counters := make([]uint64, tt.replicas)
			var history []*kvpb.Version
			for w := range tt.writes {
				var past vclock.Clock
				if rng.IntN(100) >= tt.blindPct {
					past = ReadContext(reps[rng.IntN(tt.replicas)])
				}
				c := rng.IntN(tt.replicas)
				counters[c]++
				v := &kvpb.Version{
					Value: []byte(strconv.Itoa(w)),
					Clock: FromClock(past),
					Dot:   &kvpb.ClockEntry{Node: "n" + strconv.Itoa(c), Counter: counters[c]},
				}
				history = append(history, v)
				reps[c], _ = Merge(VClock, reps[c], []*kvpb.Version{v})
				for r := range reps {
					if r != c && rng.IntN(2) == 0 {
						reps[r], _ = Merge(VClock, reps[r], reps[c])
					}
				}
				// Occasional anti-entropy between two replicas.
				if rng.IntN(10) == 0 {
					x, y := rng.IntN(tt.replicas), rng.IntN(tt.replicas)
					reps[x], _ = Merge(VClock, reps[x], reps[y])
				}
				for r, set := range reps {
					for i, v := range set {
						for j, u := range set {
							if i != j && covers(u.GetClock(), v.GetDot()) {
								t.Fatalf("after write %d replica %d keeps %s, covered by %s", w, r, dotString(v), dotString(u))
							}
						}
					}
				}
			}
			var want []string
			for _, v := range history {
				obsolete := false
				for _, u := range history {
					obsolete = obsolete || covers(u.GetClock(), v.GetDot())
				}
				if !obsolete {
					want = append(want, dotString(v))
				}
			}
			slices.Sort(want)
			for p := range 5 {
				order := rng.Perm(tt.replicas)
				var all []*kvpb.Version
				for _, r := range order {
					all, _ = Merge(VClock, all, reps[r])
				}
				if got := dotsOf(all); !slices.Equal(got, want) {
					t.Fatalf("permutation %d %v: merged dots %v, want %v", p, order, got, want)
				}
				for r := range reps {
					if _, ch := Merge(VClock, all, reps[r]); ch {
						t.Fatalf("merging replica %d into the full merge reported a change", r)
					}
				}
				ctx := FromClock(ReadContext(all))
				for _, v := range history {
					if !covers(ctx, v.GetDot()) {
						t.Fatalf("readContext of the full merge misses %s", dotString(v))
					}
				}
			}
		})
	}
}

func TestReadContext(t *testing.T) {
	tests := []struct {
		name string
		vs   []*kvpb.Version
		want string // "n1:2,n2:1", sorted by node
	}{
		{"nothing", nil, ""},
		{"one blind write", []*kvpb.Version{vcV("a", "n1:1", "")}, "n1:1"},
		{"dot and past joined", []*kvpb.Version{vcV("a", "n2:3", "n1:4,n3:1")}, "n1:4,n2:3,n3:1"},
		{"siblings of one node: the higher dot", []*kvpb.Version{vcV("a", "n1:1", ""), vcV("b", "n1:2", "")}, "n1:2"},
		{"past above a sibling's dot", []*kvpb.Version{vcV("a", "n1:5", "n2:9"), vcV("b", "n2:2", "n1:3")}, "n1:5,n2:9"},
		{"tombstones count", []*kvpb.Version{{Tombstone: true, Dot: entries("n4:1")[0], Clock: entries("n1:1")}}, "n1:1,n4:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ReadContext(tt.vs)
			if err := got.Valid(); err != nil {
				t.Fatalf("readContext = %v: %v", got, err)
			}
			var parts []string
			for _, e := range got {
				parts = append(parts, e.Node+":"+strconv.FormatUint(e.Counter, 10))
			}
			if s := strings.Join(parts, ","); s != tt.want {
				t.Fatalf("readContext = %s, want %s", s, tt.want)
			}
			for _, v := range tt.vs {
				if !covers(FromClock(got), v.GetDot()) {
					t.Fatalf("readContext %v misses dot %s", got, dotString(v))
				}
			}
		})
	}
}

func TestValues(t *testing.T) {
	vs := []*kvpb.Version{vcV("a", "n1:1", ""), {Tombstone: true, Dot: entries("n2:1")[0]}, vcV("", "n3:1", "")}
	got := Values(vs)
	if len(got) != 2 || string(got[0]) != "a" || len(got[1]) != 0 {
		t.Fatalf("values = %q, want [a, \"\"] (tombstones left out)", got)
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeContext(t *testing.T) {
	valid := mustMarshal(t, &kvpb.Context{Clock: entries("a:1,b:2")})
	tests := []struct {
		name    string
		in      []byte
		want    vclock.Clock
		wantErr bool
	}{
		{"nil is the empty context", nil, nil, false},
		{"empty is the empty context", []byte{}, nil, false},
		{"valid", valid, vclock.Clock{{Node: "a", Counter: 1, Time: 1}, {Node: "b", Counter: 2, Time: 2}}, false},
		{"garbage", []byte{0xff, 0x01}, nil, true},
		{"truncated", valid[:len(valid)-1], nil, true},
		{"text", []byte("hello, world"), nil, true},
		{"out of order", mustMarshal(t, &kvpb.Context{Clock: entries("b:1,a:1")}), nil, true},
		{"duplicate node", mustMarshal(t, &kvpb.Context{Clock: entries("a:1,a:2")}), nil, true},
		{"empty node name", mustMarshal(t, &kvpb.Context{Clock: []*kvpb.ClockEntry{{Node: "", Counter: 1}}}), nil, true},
		{"two contexts concatenated", append(slices.Clone(valid), valid...), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeContext(tt.in)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "malformed context") {
					t.Fatalf("DecodeContext(%x) = %v, %v; want a malformed context error", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeContext(%x): %v", tt.in, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("DecodeContext(%x) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestContextRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		c    vclock.Clock
	}{
		{"empty", nil},
		{"empty non-nil", vclock.Clock{}},
		{"one entry", vclock.Clock{{Node: "n1", Counter: 1, Time: 1700000000000000000}}},
		{"several", vclock.Clock{{Node: "a", Counter: 3, Time: 5}, {Node: "b", Counter: 1}, {Node: "n10", Counter: 7, Time: -2}}},
		{"extremes", vclock.Clock{{Node: "x", Counter: maxCounter - 1, Time: math.MinInt64}, {Node: "y", Time: math.MaxInt64}}},
		{"unicode names", vclock.Clock{{Node: "nœud-1", Counter: 2}, {Node: "節点", Counter: 9}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := EncodeContext(tt.c)
			if len(tt.c) == 0 && b != nil {
				t.Fatalf("EncodeContext(%v) = %x, want nil", tt.c, b)
			}
			got, err := DecodeContext(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.c) || (len(got) > 0 && !slices.Equal(got, tt.c)) {
				t.Fatalf("round trip of %+v = %+v", tt.c, got)
			}
		})
	}
}
