package nemesis

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// reach returns, per node, the nodes it can exchange packets with.
func reach(ids []string, shape string) map[string][]string {
	g := Grudge(shape, ids, rand.New(rand.NewPCG(7, 7)))
	out := map[string][]string{}
	for _, x := range ids {
		for _, y := range ids {
			if !slices.Contains(g[x], y) {
				out[x] = append(out[x], y)
			}
		}
	}
	return out
}

func TestGrudgeShapes(t *testing.T) {
	ids := []string{"n1", "n2", "n3", "n4", "n5"}
	tests := []struct {
		shape string
		// sizes of each node's reachable set (itself included), sorted
		want []int
	}{
		{IsolateOne, []int{1, 4, 4, 4, 4}},
		{Halves, []int{2, 2, 3, 3, 3}},
		{Bridge, []int{3, 3, 3, 3, 5}},
		{MajoritiesRing, []int{3, 3, 3, 3, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.shape, func(t *testing.T) {
			r := reach(ids, tt.shape)
			var sizes []int
			for _, id := range ids {
				sizes = append(sizes, len(r[id]))
			}
			slices.Sort(sizes)
			if !slices.Equal(sizes, tt.want) {
				t.Fatalf("reachable set sizes = %v, want %v (%v)", sizes, tt.want, r)
			}
			// Symmetric: x reaches y iff y reaches x.
			for x, ys := range r {
				for _, y := range ys {
					if !slices.Contains(r[y], x) {
						t.Fatalf("%s reaches %s but not the reverse", x, y)
					}
				}
			}
		})
	}
	// Majorities ring: no two nodes see the same majority.
	r := reach(ids, MajoritiesRing)
	seen := map[string]bool{}
	for _, ys := range r {
		s := slices.Clone(ys)
		slices.Sort(s)
		k := slices.Concat(s)
		key := ""
		for _, y := range k {
			key += y + ","
		}
		if seen[key] {
			t.Fatalf("two nodes see the same majority %s", key)
		}
		seen[key] = true
	}
}

func TestParseFaults(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"none", nil, false},
		{"", nil, false},
		{"partition,kill", []string{Partition, Kill}, false},
		{"kill, kill", []string{Kill}, false},
		{"partition,flood", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseFaults(tt.in)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("ParseFaults(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestDealRunsEveryKindEachRound(t *testing.T) {
	faults := []string{Partition, Kill, Pause, Clock}
	rng := rand.New(rand.NewPCG(3, 3))
	var deck []string
	var orders [][]string
	for round := 0; round < 50; round++ {
		var got []string
		for range faults {
			var kind string
			kind, deck = deal(deck, faults, rng)
			got = append(got, kind)
		}
		sorted := slices.Clone(got)
		slices.Sort(sorted)
		want := slices.Sorted(slices.Values(faults))
		if !slices.Equal(sorted, want) {
			t.Fatalf("round %d dealt %v, want each of %v once", round, got, faults)
		}
		orders = append(orders, got)
	}
	if slices.EqualFunc(orders[1:], orders[:len(orders)-1], slices.Equal) {
		t.Fatalf("every round dealt the same order %v: not shuffled", orders[0])
	}
}

// TestNoEmptyGrudge: on three nodes majorities-ring cuts nothing, so a
// random partition never picks it, and CutsNothing says so.
func TestNoEmptyGrudge(t *testing.T) {
	tests := []struct {
		shape string
		nodes int
		empty bool
	}{
		{MajoritiesRing, 3, true},
		{MajoritiesRing, 5, false},
		{IsolateOne, 3, false},
		{Bridge, 3, false},
		{Halves, 2, false},
		{Bridge, 2, true},
	}
	for _, tt := range tests {
		if got := CutsNothing(tt.shape, tt.nodes); got != tt.empty {
			t.Errorf("CutsNothing(%s, %d) = %v, want %v", tt.shape, tt.nodes, got, tt.empty)
		}
	}
}
