package ring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

func nodesN(n int) []Node {
	ns := make([]Node, n)
	for i := range ns {
		ns[i] = Node{ID: fmt.Sprintf("node-%d", i)}
	}
	return ns
}

// zoned spreads nodes round-robin over zones.
func zoned(n, zones int) []Node {
	ns := nodesN(n)
	for i := range ns {
		ns[i].Zone = fmt.Sprintf("z%d", i%zones)
	}
	return ns
}

func mustNew(t testing.TB, nodes []Node, vnodes int) *Ring {
	t.Helper()
	r, err := New(nodes, vnodes)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// keyTokens returns the tokens of "key-0".."key-(n-1)".
func keyTokens(n int) []uint64 {
	ts := make([]uint64, n)
	var buf []byte
	for i := range ts {
		buf = strconv.AppendInt(append(buf[:0], "key-"...), int64(i), 10)
		ts[i] = Token(buf)
	}
	return ts
}

func primaries(r *Ring, tokens []uint64) []string {
	ps := make([]string, len(tokens))
	for i, t := range tokens {
		ps[i] = r.PreferenceListForToken(t, 1)[0]
	}
	return ps
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name   string
		nodes  []Node
		vnodes int
	}{
		{"zero vnodes", nodesN(3), 0},
		{"negative vnodes", nodesN(3), -1},
		{"duplicate id", []Node{{ID: "a"}, {ID: "b"}, {ID: "a", Zone: "z"}}, 8},
		{"empty id", []Node{{ID: "a"}, {ID: ""}}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.nodes, tt.vnodes); err == nil {
				t.Fatal("New succeeded, want error")
			}
		})
	}
}

func TestNodes(t *testing.T) {
	in := []Node{{ID: "c", Zone: "z1"}, {ID: "a", Weight: 2}, {ID: "b"}}
	r := mustNew(t, in, 4)
	got := r.Nodes()
	want := []Node{{ID: "a", Weight: 2}, {ID: "b"}, {ID: "c", Zone: "z1"}}
	if !slices.Equal(got, want) {
		t.Fatalf("Nodes() = %v, want %v", got, want)
	}
	got[0].ID = "mutated"
	if n, ok := r.Node("a"); !ok || n != want[0] {
		t.Fatalf(`Node("a") = %v, %v; want %v, true`, n, ok, want[0])
	}
	if _, ok := r.Node("x"); ok {
		t.Fatal(`Node("x") found, want missing`)
	}
	if len(r.tokens) != 4*2+4+4 {
		t.Fatalf("ring has %d tokens, want 16 (weight 2 doubles a node's tokens)", len(r.tokens))
	}
}

func TestEmptyRing(t *testing.T) {
	r := mustNew(t, nil, 8)
	if pl := r.PreferenceList([]byte("k"), 3); len(pl) != 0 {
		t.Fatalf("PreferenceList on empty ring = %v", pl)
	}
	if rs := r.Ranges("a", 3); rs != nil {
		t.Fatalf("Ranges on empty ring = %v", rs)
	}
}

func TestDeterminism(t *testing.T) {
	nodes := zoned(7, 3)
	nodes[2].Weight = 3
	a := mustNew(t, nodes, 64)
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 5 {
		shuffled := slices.Clone(nodes)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		b := mustNew(t, shuffled, 64)
		for k := range 2000 {
			key := []byte(fmt.Sprintf("key-%d", k))
			pa, pb := a.PreferenceList(key, len(nodes)), b.PreferenceList(key, len(nodes))
			if !slices.Equal(pa, pb) {
				t.Fatalf("trial %d, key %s: %v vs %v from shuffled input", trial, key, pa, pb)
			}
		}
	}
}

// TestPreferenceListHandPlaced pins the walk and the zone rule on a ring
// whose tokens are placed by hand.
func TestPreferenceListHandPlaced(t *testing.T) {
	// Tokens: 10:a(z1) 20:b(z1) 30:c(z2) 40:d(z1) 50:e(z3) 60:f(z2)
	nodes := []Node{
		{ID: "a", Zone: "z1"}, {ID: "b", Zone: "z1"}, {ID: "c", Zone: "z2"},
		{ID: "d", Zone: "z1"}, {ID: "e", Zone: "z3"}, {ID: "f", Zone: "z2"},
	}
	vns := []vnode{{60, 5}, {10, 0}, {40, 3}, {20, 1}, {50, 4}, {30, 2}}
	zonedRing := build(nodes, slices.Clone(vns))

	plain := slices.Clone(nodes)
	for i := range plain {
		plain[i].Zone = ""
	}
	plainRing := build(plain, slices.Clone(vns))

	tests := []struct {
		name  string
		r     *Ring
		token uint64
		n     int
		want  []string
	}{
		{"no zones: walk order", plainRing, 5, 3, []string{"a", "b", "c"}},
		{"token on a token belongs to it", plainRing, 20, 2, []string{"b", "c"}},
		{"just past a token", plainRing, 21, 2, []string{"c", "d"}},
		{"wraps past zero", plainRing, 55, 3, []string{"f", "a", "b"}},
		{"past the last token", plainRing, 61, 1, []string{"a"}},
		{"n > nodes gives all", plainRing, 5, 10, []string{"a", "b", "c", "d", "e", "f"}},
		{"n = 0", plainRing, 5, 0, nil},
		// From 5: a(z1) taken, b and d skipped (z1 chosen), c(z2), e(z3)
		// completes the zones; then b, d (set aside, in walk order), then f.
		{"zones: one per zone", zonedRing, 5, 3, []string{"a", "c", "e"}},
		{"zones: extended", zonedRing, 5, 6, []string{"a", "c", "e", "b", "d", "f"}},
		{"zones: set-aside before later nodes", zonedRing, 5, 4, []string{"a", "c", "e", "b"}},
		// From 35: d(z1), e(z3), f(z2) completes; then a, b, c.
		{"zones: from d", zonedRing, 35, 6, []string{"d", "e", "f", "a", "b", "c"}},
		// From 55: f(z2), a(z1), b skipped, c skipped, d skipped, e(z3).
		{"zones: wrap", zonedRing, 55, 6, []string{"f", "a", "e", "b", "c", "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.r.PreferenceListForToken(tt.token, tt.n)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("PreferenceListForToken(%d, %d) = %v, want %v", tt.token, tt.n, got, tt.want)
			}
		})
	}
}

func TestPreferenceListProperties(t *testing.T) {
	tests := []struct {
		name  string
		nodes []Node
	}{
		{"no zones", nodesN(6)},
		{"3 zones, 9 nodes", zoned(9, 3)},
		{"3 zones, uneven", zoned(7, 3)},
		{"2 zones", zoned(5, 2)},
		{"one node", nodesN(1)},
		{"many nodes", zoned(150, 4)}, // bit sets outgrow their stack buffers
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, tt.nodes, 32)
			zoneOf := map[string]string{}
			for _, n := range tt.nodes {
				zoneOf[n.ID] = n.Zone
			}
			nzones := r.nzones
			for k := range 300 {
				key := []byte(fmt.Sprintf("key-%d", k))
				full := r.PreferenceList(key, len(tt.nodes)+2)
				if len(full) != len(tt.nodes) {
					t.Fatalf("key %s: n > nodes gave %d ids, want %d", key, len(full), len(tt.nodes))
				}
				for n := 0; n <= len(tt.nodes); n++ {
					pl := r.PreferenceList(key, n)
					if !slices.Equal(pl, full[:n]) {
						t.Fatalf("key %s: PreferenceList(%d) = %v, not a prefix of %v", key, n, pl, full)
					}
				}
				seen := map[string]bool{}
				zones := map[string]bool{}
				for i, id := range full {
					if seen[id] {
						t.Fatalf("key %s: duplicate %s in %v", key, id, full)
					}
					seen[id] = true
					if i < nzones && zones[zoneOf[id]] {
						t.Fatalf("key %s: zone %s repeated before all %d zones used: %v", key, zoneOf[id], nzones, full)
					}
					zones[zoneOf[id]] = true
				}
				// The first node is the walk's first: the key's primary.
				if want := r.nodes[r.owner[firstAtOrAfter(r.tokens, Token(key))]].ID; full[0] != want {
					t.Fatalf("key %s: primary %s, want owner of next token %s", key, full[0], want)
				}
			}
		})
	}
}

func firstAtOrAfter(tokens []uint64, t uint64) int {
	for i, tok := range tokens {
		if tok >= t {
			return i
		}
	}
	return 0
}

func TestZoneDiversity(t *testing.T) {
	// Zones of different sizes, so the walk often meets the same zone twice.
	nodes := []Node{
		{ID: "a1", Zone: "a"}, {ID: "a2", Zone: "a"}, {ID: "a3", Zone: "a"}, {ID: "a4", Zone: "a"},
		{ID: "b1", Zone: "b"}, {ID: "b2", Zone: "b"},
		{ID: "c1", Zone: "c"},
	}
	zoneOf := map[string]string{}
	for _, n := range nodes {
		zoneOf[n.ID] = n.Zone
	}
	r := mustNew(t, nodes, 64)
	for k := range 10000 {
		pl := r.PreferenceList([]byte(fmt.Sprintf("key-%d", k)), 3)
		zones := map[string]bool{}
		for _, id := range pl {
			zones[zoneOf[id]] = true
		}
		if len(zones) != 3 {
			t.Fatalf("key-%d: %v spans zones %v, want all 3", k, pl, zones)
		}
	}
}

// stddevPct is the population standard deviation of counts as a
// percentage of their mean.
func stddevPct(counts map[string]int) float64 {
	var sum float64
	for _, c := range counts {
		sum += float64(c)
	}
	mean := sum / float64(len(counts))
	var sq float64
	for _, c := range counts {
		sq += (float64(c) - mean) * (float64(c) - mean)
	}
	return 100 * math.Sqrt(sq/float64(len(counts))) / mean
}

func TestDistribution(t *testing.T) {
	tokens := keyTokens(1_000_000)
	tests := []struct {
		vnodes int
		maxPct float64
	}{
		{100, 20},
		{200, 10},
	}
	got := map[int]float64{}
	for _, tt := range tests {
		r := mustNew(t, nodesN(10), tt.vnodes)
		counts := map[string]int{}
		for _, p := range primaries(r, tokens) {
			counts[p]++
		}
		if len(counts) != 10 {
			t.Fatalf("%d vnodes: only %d nodes are primaries", tt.vnodes, len(counts))
		}
		pct := stddevPct(counts)
		got[tt.vnodes] = pct
		t.Logf("10 nodes, %d vnodes, 1M keys: std dev of keys per primary = %.2f%% of mean", tt.vnodes, pct)
		if pct >= tt.maxPct {
			t.Errorf("%d vnodes: std dev %.2f%% of mean, want < %.0f%%", tt.vnodes, pct, tt.maxPct)
		}
	}
	if got[200] >= got[100] {
		t.Errorf("std dev at 200 vnodes (%.2f%%) not below 100 vnodes (%.2f%%)", got[200], got[100])
	}
}

func TestJoin(t *testing.T) {
	tokens := keyTokens(1_000_000)
	before := primaries(mustNew(t, nodesN(10), 128), tokens)
	after := primaries(mustNew(t, nodesN(11), 128), tokens)
	newID := nodesN(11)[10].ID
	moved := 0
	for i := range tokens {
		if before[i] == after[i] {
			continue
		}
		moved++
		if after[i] != newID {
			t.Fatalf("key-%d moved %s -> %s, want only moves to the new node %s", i, before[i], after[i], newID)
		}
	}
	frac := float64(moved) / float64(len(tokens))
	t.Logf("join of an 11th node (128 vnodes): %.4f of keys changed primary (1/11 = %.4f)", frac, 1.0/11)
	if frac < 0.05 || frac > 0.15 {
		t.Errorf("moved fraction %.4f, want in [0.05, 0.15]", frac)
	}
}

func TestWeight(t *testing.T) {
	nodes := nodesN(6)
	nodes[0].Weight = 2
	nodes[1].Weight = 0 // means 1
	nodes[2].Weight = 1
	r := mustNew(t, nodes, 200)
	share := r.Share()
	var light float64
	for _, n := range nodes[1:] {
		light += share[n.ID]
	}
	light /= float64(len(nodes) - 1)
	ratio := share[nodes[0].ID] / light
	t.Logf("weight 2 vs weight 1 (6 nodes, 200 vnodes): share %.4f vs mean %.4f, ratio %.3f", share[nodes[0].ID], light, ratio)
	if ratio < 1.7 || ratio > 2.3 {
		t.Errorf("weight-2 node owns %.3f times a weight-1 node's share, want 2 ± 0.3", ratio)
	}
}

func TestShare(t *testing.T) {
	tokens := keyTokens(200_000)
	tests := []struct {
		name  string
		r     *Ring
		exact map[string]float64
	}{
		{"10 nodes", mustNew(t, nodesN(10), 50), nil},
		{"zoned, weighted", mustNew(t, append(zoned(4, 2), Node{ID: "w", Zone: "z0", Weight: 3}), 20), nil},
		{"one node, one token", mustNew(t, nodesN(1), 1), map[string]float64{"node-0": 1}},
		{"hand placed", build([]Node{{ID: "a"}, {ID: "b"}}, []vnode{{1 << 62, 0}, {1 << 63, 1}}),
			map[string]float64{"a": 0.75, "b": 0.25}},
		{"all tokens equal", build([]Node{{ID: "a"}, {ID: "b"}}, []vnode{{7, 1}, {7, 0}}),
			map[string]float64{"a": 1, "b": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			share := tt.r.Share()
			var sum float64
			for _, s := range share {
				sum += s
			}
			if math.Abs(sum-1) > 1e-9 {
				t.Fatalf("shares sum to %v, want 1", sum)
			}
			for id, want := range tt.exact {
				if math.Abs(share[id]-want) > 1e-12 {
					t.Errorf("share[%s] = %v, want %v", id, share[id], want)
				}
			}
			// Shares predict where keys land.
			counts := map[string]int{}
			for _, p := range primaries(tt.r, tokens) {
				counts[p]++
			}
			for id, s := range share {
				if got := float64(counts[id]) / float64(len(tokens)); math.Abs(got-s) > 0.01 {
					t.Errorf("%s: share %.4f but %.4f of keys", id, s, got)
				}
			}
		})
	}
}

func TestRangeContains(t *testing.T) {
	const top = math.MaxUint64
	tests := []struct {
		rg   Range
		t    uint64
		want bool
	}{
		{Range{10, 20}, 10, false},
		{Range{10, 20}, 11, true},
		{Range{10, 20}, 20, true},
		{Range{10, 20}, 21, false},
		{Range{20, 10}, 21, true},
		{Range{20, 10}, top, true},
		{Range{20, 10}, 0, true},
		{Range{20, 10}, 10, true},
		{Range{20, 10}, 15, false},
		{Range{20, 10}, 20, false},
		{Range{5, 5}, 5, true}, // whole ring
		{Range{5, 5}, 0, true},
		{Range{top, 0}, 0, true},
		{Range{top, 0}, top, false},
	}
	for _, tt := range tests {
		if got := tt.rg.Contains(tt.t); got != tt.want {
			t.Errorf("%+v.Contains(%d) = %v, want %v", tt.rg, tt.t, got, tt.want)
		}
	}
}

func TestRanges(t *testing.T) {
	tests := []struct {
		name  string
		r     *Ring
		nodes []Node
		n     int
	}{
		{"primary", mustNew(t, nodesN(5), 16), nodesN(5), 1},
		{"n=3", mustNew(t, nodesN(5), 16), nodesN(5), 3},
		{"zones, n=3", mustNew(t, zoned(6, 3), 16), zoned(6, 3), 3},
		{"n = all nodes", mustNew(t, nodesN(4), 8), nodesN(4), 4},
		{"one node", mustNew(t, nodesN(1), 8), nodesN(1), 3},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Probe every token, its neighbours, and random points.
			var probes []uint64
			for _, tok := range tt.r.tokens {
				probes = append(probes, tok-1, tok, tok+1)
			}
			for range 5000 {
				probes = append(probes, rng.Uint64())
			}
			for _, node := range tt.nodes {
				rs := tt.r.Ranges(node.ID, tt.n)
				for _, p := range probes {
					want := slices.Contains(tt.r.PreferenceListForToken(p, tt.n), node.ID)
					in := 0
					for _, rg := range rs {
						if rg.Contains(p) {
							in++
						}
					}
					if in > 1 {
						t.Fatalf("%s: token %d in %d of %v, ranges overlap", node.ID, p, in, rs)
					}
					if (in == 1) != want {
						t.Fatalf("%s: token %d in ranges = %v, in first %d of preference list = %v", node.ID, p, in == 1, tt.n, want)
					}
				}
			}
		})
	}
	r := mustNew(t, nodesN(3), 8)
	if rs := r.Ranges("missing", 2); rs != nil {
		t.Errorf("Ranges of unknown id = %v, want nil", rs)
	}
	if rs := r.Ranges("node-0", 3); len(rs) != 1 || rs[0].Start != rs[0].End {
		t.Errorf("Ranges with n = all nodes = %v, want the whole ring as one range", rs)
	}
}

func BenchmarkPreferenceList(b *testing.B) {
	r := mustNew(b, nodesN(5), 128)
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key-%d", i))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if pl := r.PreferenceList(keys[i%len(keys)], 3); len(pl) != 3 {
			b.Fatal(pl)
		}
	}
}
