package nemesis

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRingGrudge(t *testing.T) {
	ids := []string{"n1", "n2", "n3", "n4", "n5"}
	homes := map[string][]string{
		"a": {"n1", "n2", "n3"},
		"b": {"n2", "n3", "n4"},
		"c": {"n4", "n5", "n1"},
	}
	cutOff := func(g map[string][]string) []string {
		// The side cut off is the set of nodes that drop some node of a
		// larger set; with two sides, the smaller one's members.
		var side []string
		for _, id := range ids {
			if len(g[id]) > 0 && len(g[id]) >= len(ids)-len(g[id]) {
				side = append(side, id)
			}
		}
		return side
	}
	tests := []struct {
		shape string
		check func(t *testing.T, g map[string][]string, keys []string)
	}{
		{HomeReplicas, func(t *testing.T, g map[string][]string, keys []string) {
			if len(keys) != 1 {
				t.Fatalf("aimed at %v; want one key", keys)
			}
			for _, r := range homes[keys[0]] {
				for _, o := range ids {
					if !slices.Contains(homes[keys[0]], o) && !slices.Contains(g[r], o) {
						t.Fatalf("home replica %s of %s still reaches %s: %v", r, keys[0], o, g)
					}
				}
				for _, o := range homes[keys[0]] {
					if slices.Contains(g[r], o) {
						t.Fatalf("home replicas %s and %s cut from each other", r, o)
					}
				}
			}
		}},
		{KeyPrimary, func(t *testing.T, g map[string][]string, keys []string) {
			p := homes[keys[0]][0]
			if len(g[p]) != len(ids)-1 {
				t.Fatalf("primary %s of %s drops %v; want every other node", p, keys[0], g[p])
			}
		}},
		{PrefMinority, func(t *testing.T, g map[string][]string, keys []string) {
			side := cutOff(g)
			if len(side) == 0 {
				t.Fatalf("nothing cut: %v", g)
			}
			for k, list := range homes {
				cut := 0
				for _, id := range list {
					if slices.Contains(side, id) {
						cut++
					}
				}
				if cut == 0 || 2*cut >= len(list) {
					t.Fatalf("key %s (%v) loses %d of its replicas to %v; want a minority, at least one", k, list, cut, side)
				}
			}
			if !slices.Equal(keys, []string{"a", "b", "c"}) {
				t.Fatalf("aimed at %v; want every key", keys)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.shape, func(t *testing.T) {
			for seed := range uint64(20) {
				g, keys := RingGrudge(tt.shape, ids, homes, rand.New(rand.NewPCG(seed, 1)))
				if len(g) == 0 {
					t.Fatalf("seed %d: no grudge", seed)
				}
				for x, ys := range g { // symmetric
					for _, y := range ys {
						if !slices.Contains(g[y], x) {
							t.Fatalf("seed %d: %s drops %s but not the reverse", seed, x, y)
						}
					}
				}
				tt.check(t, g, keys)
			}
		})
	}
	if g, _ := RingGrudge(HomeReplicas, []string{"n1", "n2", "n3"}, map[string][]string{"a": {"n1", "n2", "n3"}}, rand.New(rand.NewPCG(1, 1))); len(g) != 0 {
		t.Fatalf("home replicas on a cluster of only home replicas cut %v; want nothing", g)
	}
}

func TestHintHolderGrudge(t *testing.T) {
	ids := []string{"n1", "n2", "n3"}
	holder, g := hintHolderGrudge(ids, map[string]uint64{"n1": 2, "n2": 7, "n3": 0, "n9": 50})
	if holder != "n2" || !slices.Equal(g["n2"], []string{"n1", "n3"}) || !slices.Equal(g["n1"], []string{"n2"}) || len(g["n3"]) != 1 {
		t.Fatalf("holder %s, grudge %v; want n2 (n9 is not a candidate) cut from n1 and n3", holder, g)
	}
	if holder, g := hintHolderGrudge(ids, map[string]uint64{}); holder != "" || g != nil {
		t.Fatalf("no hints: holder %q, grudge %v; want none", holder, g)
	}
}
