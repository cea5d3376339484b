package merkle

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

type entry struct {
	token uint64
	key   string
	vers  []string
}

func (e entry) hash() uint64 {
	vs := make([][]byte, len(e.vers))
	for i, v := range e.vers {
		vs[i] = []byte(v)
	}
	return Hash([]byte(e.key), vs)
}

func build(t *testing.T, depth int, es []entry) *Tree {
	t.Helper()
	tr, err := New(depth)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		tr.Add(e.token, e.hash())
	}
	return tr
}

func sample(n int, seed uint64) []entry {
	rng := rand.New(rand.NewPCG(seed, 1))
	es := make([]entry, n)
	for i := range es {
		es[i] = entry{token: rng.Uint64(), key: fmt.Sprintf("k%d", i), vers: []string{fmt.Sprintf("v%d", i)}}
	}
	return es
}

func TestDiff(t *testing.T) {
	base := sample(500, 1)
	const depth = 6
	tests := []struct {
		name   string
		change func([]entry) []entry
		// want lists the entries whose leaves must differ; nil: none.
		want []int
	}{
		{"identical", func(es []entry) []entry { return es }, nil},
		{"order does not matter", func(es []entry) []entry {
			out := slices.Clone(es)
			slices.Reverse(out)
			return out
		}, nil},
		{"version order does not matter", func(es []entry) []entry {
			out := slices.Clone(es)
			out[3].vers = []string{"b", "a"}
			return out
		}, nil},
		{"missing entry", func(es []entry) []entry { return slices.Delete(slices.Clone(es), 7, 8) }, []int{7}},
		{"changed value", func(es []entry) []entry {
			out := slices.Clone(es)
			out[42].vers = []string{"other"}
			return out
		}, []int{42}},
		{"extra sibling", func(es []entry) []entry {
			out := slices.Clone(es)
			out[100].vers = append(slices.Clone(out[100].vers), "sibling")
			return out
		}, []int{100}},
		{"two changes", func(es []entry) []entry {
			out := slices.Clone(es)
			out[1].vers = []string{"x"}
			out[499].vers = []string{"y"}
			return out
		}, []int{1, 499}},
	}
	// Same-version reorderings need the base to hold two versions in entry 3.
	base[3].vers = []string{"a", "b"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := build(t, depth, base)
			b := build(t, depth, tt.change(base))
			diff, err := Diff(a.Leaves(), b.Leaves())
			if err != nil {
				t.Fatal(err)
			}
			var want []uint32
			for _, i := range tt.want {
				want = append(want, Leaf(base[i].token, depth))
			}
			slices.Sort(want)
			want = slices.Compact(want)
			if !slices.Equal(diff, want) {
				t.Fatalf("differing leaves %v, want %v", diff, want)
			}
			if (a.Root() == b.Root()) != (len(want) == 0) {
				t.Fatalf("roots %x and %x: equal=%v, want %v", a.Root(), b.Root(), a.Root() == b.Root(), len(want) == 0)
			}
		})
	}
}

func TestLeaf(t *testing.T) {
	tests := []struct {
		token uint64
		depth int
		want  uint32
	}{
		{0, 0, 0},
		{^uint64(0), 0, 0},
		{0, 4, 0},
		{1 << 63, 1, 1},
		{1<<63 - 1, 1, 0},
		{^uint64(0), 12, 4095},
		{0x0123_4567_89ab_cdef, 8, 0x01},
	}
	for _, tt := range tests {
		if got := Leaf(tt.token, tt.depth); got != tt.want {
			t.Errorf("Leaf(%#x, %d) = %d, want %d", tt.token, tt.depth, got, tt.want)
		}
	}
}

func TestEmptyAndDepth(t *testing.T) {
	if _, err := New(MaxDepth + 1); err == nil {
		t.Fatal("New accepted a depth past MaxDepth")
	}
	if _, err := New(-1); err == nil {
		t.Fatal("New accepted a negative depth")
	}
	empty := build(t, 4, nil)
	if r := empty.Root(); r != 0 {
		t.Fatalf("empty tree root = %x, want 0", r)
	}
	one := build(t, 4, sample(1, 2))
	if one.Root() == 0 {
		t.Fatal("a tree with one entry has the empty root")
	}
	if _, err := Diff(empty.Leaves(), build(t, 3, nil).Leaves()); err == nil {
		t.Fatal("Diff of trees of different depths succeeded")
	}
}
