package vclock

import (
	"fmt"
	"slices"
	"testing"
)

// mk builds a clock from node/counter pairs, with Time = counter.
func mk(pairs ...any) Clock {
	var c Clock
	for i := 0; i < len(pairs); i += 2 {
		n := uint64(pairs[i+1].(int))
		c = c.Set(pairs[i].(string), n, int64(n))
	}
	return c
}

// eq compares clocks as values: nil and empty are the same clock.
func eq(a, b Clock) bool { return len(a) == len(b) && (len(a) == 0 || slices.Equal(a, b)) }

func TestCompare(t *testing.T) {
	tests := []struct {
		name string
		a, b Clock
		want Order
	}{
		{"both empty", nil, nil, Equal},
		{"empty vs non-empty", nil, mk("a", 1), Before},
		{"non-empty vs empty", mk("a", 1), nil, After},
		{"equal", mk("a", 1, "b", 2), mk("a", 1, "b", 2), Equal},
		{"equal, times differ", Clock{{"a", 1, 5}}, Clock{{"a", 1, 9}}, Equal},
		{"zero entry equals absent", Clock{{"a", 0, 1}}, nil, Equal},
		{"one counter lower", mk("a", 1, "b", 2), mk("a", 2, "b", 2), Before},
		{"one counter higher", mk("a", 3, "b", 2), mk("a", 2, "b", 2), After},
		{"b has an extra node", mk("a", 1), mk("a", 1, "b", 1), Before},
		{"a has an extra node", mk("a", 1, "c", 1), mk("a", 1), After},
		{"crossed counters", mk("a", 2, "b", 1), mk("a", 1, "b", 2), Concurrent},
		{"disjoint nodes", mk("a", 1), mk("b", 1), Concurrent},
		{"extra node vs higher counter", mk("a", 1, "b", 1), mk("a", 2), Concurrent},
		{"interleaved names", mk("a", 1, "c", 1, "e", 1), mk("b", 1, "c", 1, "d", 1), Concurrent},
		{"interleaved, descends", mk("a", 1, "b", 1, "c", 2, "d", 1), mk("b", 1, "c", 1), After},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Compare(tt.a, tt.b); got != tt.want {
				t.Fatalf("Compare(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
			// The relation seen from the other side.
			flip := map[Order]Order{Equal: Equal, Before: After, After: Before, Concurrent: Concurrent}
			if got := Compare(tt.b, tt.a); got != flip[tt.want] {
				t.Fatalf("Compare(%v, %v) = %v, want %v", tt.b, tt.a, got, flip[tt.want])
			}
			wantDesc := tt.want == Equal || tt.want == After
			if got := tt.a.Descends(tt.b); got != wantDesc {
				t.Fatalf("%v.Descends(%v) = %v, want %v", tt.a, tt.b, got, wantDesc)
			}
		})
	}
}

func TestOrderString(t *testing.T) {
	tests := []struct {
		o    Order
		want string
	}{
		{Equal, "Equal"}, {Before, "Before"}, {After, "After"}, {Concurrent, "Concurrent"}, {Order(9), "Order(9)"},
	}
	for _, tt := range tests {
		if got := tt.o.String(); got != tt.want {
			t.Errorf("Order(%d).String() = %q, want %q", int(tt.o), got, tt.want)
		}
	}
}

func TestIncrementSetGet(t *testing.T) {
	tests := []struct {
		name string
		got  Clock
		want Clock
	}{
		{"increment empty", Clock(nil).Increment("b", 10), Clock{{"b", 1, 10}}},
		{"increment existing", Clock{{"b", 1, 10}}.Increment("b", 20), Clock{{"b", 2, 20}}},
		{"insert first", Clock{{"b", 1, 10}}.Increment("a", 20), Clock{{"a", 1, 20}, {"b", 1, 10}}},
		{"insert middle", Clock{{"a", 1, 1}, {"c", 1, 1}}.Increment("b", 5), Clock{{"a", 1, 1}, {"b", 1, 5}, {"c", 1, 1}}},
		{"insert last", Clock{{"a", 1, 1}}.Increment("c", 5), Clock{{"a", 1, 1}, {"c", 1, 5}}},
		{"set existing", Clock{{"a", 1, 1}, {"b", 4, 1}}.Set("b", 9, 7), Clock{{"a", 1, 1}, {"b", 9, 7}}},
		{"set new", Clock{{"b", 4, 1}}.Set("a", 3, 7), Clock{{"a", 3, 7}, {"b", 4, 1}}},
		{"set lower", Clock{{"a", 5, 1}}.Set("a", 2, 7), Clock{{"a", 2, 7}}},
		{"set zero removes", Clock{{"a", 1, 1}, {"b", 4, 1}}.Set("a", 0, 7), Clock{{"b", 4, 1}}},
		{"set zero absent", Clock{{"b", 4, 1}}.Set("a", 0, 7), Clock{{"b", 4, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !eq(tt.got, tt.want) {
				t.Fatalf("got %+v, want %+v", tt.got, tt.want)
			}
			if err := tt.got.Valid(); err != nil {
				t.Fatal(err)
			}
		})
	}
	c := mk("a", 3, "c", 1)
	for node, want := range map[string]uint64{"a": 3, "b": 0, "c": 1, "d": 0, "": 0} {
		if got := c.Get(node); got != want {
			t.Errorf("Get(%q) = %d, want %d", node, got, want)
		}
	}
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name string
		a, b Clock
		want Clock
	}{
		{"both empty", nil, nil, nil},
		{"one empty", Clock{{"a", 1, 3}}, nil, Clock{{"a", 1, 3}}},
		{"disjoint", Clock{{"a", 1, 3}, {"c", 2, 3}}, Clock{{"b", 5, 4}}, Clock{{"a", 1, 3}, {"b", 5, 4}, {"c", 2, 3}}},
		{"max counter, its time", Clock{{"a", 5, 1}, {"b", 1, 9}}, Clock{{"a", 2, 8}, {"b", 3, 2}}, Clock{{"a", 5, 1}, {"b", 3, 2}}},
		{"tie takes later time", Clock{{"a", 2, 4}}, Clock{{"a", 2, 6}}, Clock{{"a", 2, 6}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ab, ba := Merge(tt.a, tt.b), Merge(tt.b, tt.a)
			if !eq(ab, tt.want) {
				t.Fatalf("Merge(a, b) = %+v, want %+v", ab, tt.want)
			}
			if !eq(ba, ab) {
				t.Fatalf("not commutative: Merge(b, a) = %+v, Merge(a, b) = %+v", ba, ab)
			}
			if m := Merge(ab, ab); !eq(m, ab) {
				t.Fatalf("not idempotent: Merge(m, m) = %+v, m = %+v", m, ab)
			}
			if m := Merge(ab, tt.a); !eq(m, ab) {
				t.Fatalf("Merge(Merge(a, b), a) = %+v, want %+v", m, ab)
			}
			if !ab.Descends(tt.a) || !ab.Descends(tt.b) {
				t.Fatalf("merge %v does not descend %v and %v", ab, tt.a, tt.b)
			}
			if err := ab.Valid(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	// Entries n0..n14 with Time = 100 - i, so n0 is the newest.
	var wide Clock
	for i := range 15 {
		wide = wide.Set(fmt.Sprintf("n%02d", i), uint64(i+1), int64(100-i))
	}
	tests := []struct {
		name  string
		c     Clock
		limit int
		want  []string // nodes kept
	}{
		{"under limit unchanged", mk("a", 1, "b", 1), 10, []string{"a", "b"}},
		{"at limit unchanged", mk("a", 1, "b", 1), 2, []string{"a", "b"}},
		{"keeps newest", Clock{{"a", 1, 30}, {"b", 1, 10}, {"c", 1, 20}}, 2, []string{"a", "c"}},
		{"tie on time: higher counter", Clock{{"a", 1, 5}, {"b", 2, 5}, {"c", 9, 1}}, 1, []string{"b"}},
		{"tie on time and counter: lower name", Clock{{"a", 1, 5}, {"b", 1, 5}}, 1, []string{"a"}},
		{"zero limit means default", wide, 0, []string{"n00", "n01", "n02", "n03", "n04", "n05", "n06", "n07", "n08", "n09"}},
		{"limit 3", wide, 3, []string{"n00", "n01", "n02"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.c.Truncate(tt.limit)
			var nodes []string
			for _, e := range got {
				nodes = append(nodes, e.Node)
				if want := tt.c.Get(e.Node); e.Counter != want {
					t.Errorf("%s: counter %d, want %d kept as is", e.Node, e.Counter, want)
				}
			}
			if !slices.Equal(nodes, tt.want) {
				t.Fatalf("Truncate(%d) kept %v, want %v", tt.limit, nodes, tt.want)
			}
			if err := got.Valid(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestNoMutation checks every operation leaves its inputs as they were,
// including when a result could share their backing array.
func TestNoMutation(t *testing.T) {
	base := Clock{{"a", 1, 1}, {"c", 3, 3}, {"e", 5, 5}}
	other := Clock{{"b", 2, 9}, {"c", 4, 9}}
	base = slices.Grow(base, 10) // spare capacity an append could reuse
	baseCopy, otherCopy := slices.Clone(base), slices.Clone(other)

	results := map[string]Clock{
		"Increment existing": base.Increment("c", 50),
		"Increment new":      base.Increment("b", 50),
		"Set":                base.Set("a", 7, 50),
		"Set zero":           base.Set("a", 0, 50),
		"Merge":              Merge(base, other),
		"Merge with empty":   Merge(nil, base),
		"Truncate":           base.Truncate(2),
		"Truncate no-op":     base.Truncate(10),
	}
	if !slices.Equal(base, baseCopy) || !slices.Equal(other, otherCopy) {
		t.Fatalf("inputs mutated: %+v, %+v", base, other)
	}
	// Results must not alias the input either: writing to them leaves it alone.
	for name, r := range results {
		for i := range r {
			r[i].Counter = 1000
		}
		_ = append(r, Entry{"z", 1, 1})
		if spare := base[len(base) : len(base)+1]; !slices.Equal(base, baseCopy) || spare[0] != (Entry{}) {
			t.Fatalf("%s: result shares memory with its input", name)
		}
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		name string
		c    Clock
		ok   bool
	}{
		{"nil", nil, true},
		{"sorted", mk("a", 1, "b", 1), true},
		{"unsorted", Clock{{"b", 1, 1}, {"a", 1, 1}}, false},
		{"duplicate", Clock{{"a", 1, 1}, {"a", 2, 1}}, false},
		{"empty name", Clock{{"", 1, 1}}, false},
	}
	for _, tt := range tests {
		if err := tt.c.Valid(); (err == nil) != tt.ok {
			t.Errorf("%s: Valid() = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		c    Clock
		want string
	}{
		{nil, "[]"},
		{mk("Sx", 2), "[Sx:2]"},
		{mk("Sy", 1, "Sx", 2), "[Sx:2 Sy:1]"},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// TestDynamoExample replays the example of the Dynamo paper (section 4.4).
func TestDynamoExample(t *testing.T) {
	var now int64
	tick := func() int64 { now++; return now }

	d1 := Clock(nil).Increment("Sx", tick()) // written by Sx
	d2 := d1.Increment("Sx", tick())         // updated by Sx
	d3 := d2.Increment("Sy", tick())         // from D2, handled by Sy
	d4 := d2.Increment("Sz", tick())         // from D2, handled by Sz

	wantStr := map[string]string{"D1": "[Sx:1]", "D2": "[Sx:2]", "D3": "[Sx:2 Sy:1]", "D4": "[Sx:2 Sz:1]"}
	for name, c := range map[string]Clock{"D1": d1, "D2": d2, "D3": d3, "D4": d4} {
		if c.String() != wantStr[name] {
			t.Fatalf("%s = %v, want %s", name, c, wantStr[name])
		}
	}

	checks := []struct {
		name string
		a, b Clock
		want Order
	}{
		{"D1 vs D2", d1, d2, Before},
		{"D2 vs D3", d2, d3, Before},
		{"D2 vs D4", d2, d4, Before},
		{"D3 vs D4: conflict", d3, d4, Concurrent},
	}
	for _, c := range checks {
		if got := Compare(c.a, c.b); got != c.want {
			t.Errorf("%s: %v vs %v = %v, want %v", c.name, c.a, c.b, got, c.want)
		}
	}

	// The client reads both siblings, reconciles, and Sx writes D5.
	d5 := Merge(d3, d4).Increment("Sx", tick())
	if got := d5.String(); got != "[Sx:3 Sy:1 Sz:1]" {
		t.Fatalf("D5 = %s, want [Sx:3 Sy:1 Sz:1]", got)
	}
	for name, c := range map[string]Clock{"D3": d3, "D4": d4, "D2": d2} {
		if got := Compare(d5, c); got != After {
			t.Errorf("D5 vs %s = %v, want After", name, got)
		}
		if !d5.Descends(c) {
			t.Errorf("D5 does not descend %s", name)
		}
	}
	if d3.Descends(d4) || d4.Descends(d3) {
		t.Error("D3 and D4 descend each other, want neither")
	}
}
