// Package vclock implements vector clocks as in Dynamo: one counter per
// coordinating node, compared pointwise to tell causal order from conflict.
package vclock

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// DefaultTruncate is the default number of entries a clock keeps.
const DefaultTruncate = 10

// Entry is one node's counter. Time is the unix nanos of the entry's last
// increment, used only to choose what Truncate drops.
type Entry struct {
	Node    string
	Counter uint64
	Time    int64
}

// Clock is a vector clock: entries sorted by Node, no duplicates; nil is
// the empty clock and a missing node counts as 0. Operations never mutate
// their inputs, so clocks can be shared freely.
type Clock []Entry

// Order is how two clocks relate.
type Order int

const (
	Equal      Order = iota
	Before           // a < b: b descends a
	After            // a > b: a descends b
	Concurrent       // neither descends the other: a conflict
)

func (o Order) String() string {
	switch o {
	case Equal:
		return "Equal"
	case Before:
		return "Before"
	case After:
		return "After"
	case Concurrent:
		return "Concurrent"
	}
	return "Order(" + strconv.Itoa(int(o)) + ")"
}

func (c Clock) find(node string) (int, bool) {
	return slices.BinarySearchFunc(c, node, func(e Entry, n string) int { return cmp.Compare(e.Node, n) })
}

// Get returns node's counter, 0 if absent.
func (c Clock) Get(node string) uint64 {
	if i, ok := c.find(node); ok {
		return c[i].Counter
	}
	return 0
}

// Increment returns a copy with node's counter raised by one and its Time set to now.
func (c Clock) Increment(node string, now int64) Clock {
	return c.Set(node, c.Get(node)+1, now)
}

// Set returns a copy with node's entry set to counter and now. A zero
// counter removes the entry, since absent already means 0.
func (c Clock) Set(node string, counter uint64, now int64) Clock {
	i, ok := c.find(node)
	switch {
	case counter == 0 && !ok:
		return slices.Clone(c)
	case counter == 0:
		return slices.Delete(slices.Clone(c), i, i+1)
	case ok:
		out := slices.Clone(c)
		out[i].Counter, out[i].Time = counter, now
		return out
	}
	return slices.Insert(slices.Clone(c), i, Entry{Node: node, Counter: counter, Time: now})
}

// Merge returns the pointwise maximum of a and b. An entry's Time comes
// with the larger counter (the later of the two on a tie).
func Merge(a, b Clock) Clock {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make(Clock, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Node < b[j].Node):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].Node < a[i].Node:
			out = append(out, b[j])
			j++
		default:
			e, f := a[i], b[j]
			if f.Counter > e.Counter || (f.Counter == e.Counter && f.Time > e.Time) {
				e = f
			}
			out = append(out, e)
			i++
			j++
		}
	}
	return out
}

// Compare reports how a relates to b: Before means b descends a.
func Compare(a, b Clock) Order {
	less, greater := false, false // some counter of a is below / above b's
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var x, y uint64
		switch {
		case j == len(b) || (i < len(a) && a[i].Node < b[j].Node):
			x = a[i].Counter
			i++
		case i == len(a) || b[j].Node < a[i].Node:
			y = b[j].Counter
			j++
		default:
			x, y = a[i].Counter, b[j].Counter
			i++
			j++
		}
		less = less || x < y
		greater = greater || x > y
	}
	switch {
	case less && greater:
		return Concurrent
	case less:
		return Before
	case greater:
		return After
	}
	return Equal
}

// Descends reports whether c >= o pointwise, i.e. c has seen all of o.
func (c Clock) Descends(o Clock) bool {
	ord := Compare(c, o)
	return ord == Equal || ord == After
}

// Truncate returns a copy keeping the limit entries with the newest Time,
// bounding clock growth when many nodes coordinate one key. Dropped
// entries lose causal history, so later comparisons may err; the oldest
// entries are the least likely to matter. A limit below 1 means
// DefaultTruncate: an unset limit must not erase a clock outright.
func (c Clock) Truncate(limit int) Clock {
	if limit < 1 {
		limit = DefaultTruncate
	}
	if len(c) <= limit {
		return slices.Clone(c)
	}
	byAge := slices.Clone(c)
	// Ties broken by counter then name so every replica drops the same entries.
	slices.SortFunc(byAge, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(b.Time, a.Time), cmp.Compare(b.Counter, a.Counter), cmp.Compare(a.Node, b.Node))
	})
	out := byAge[:limit]
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Compare(a.Node, b.Node) })
	return slices.Clip(out)
}

// Valid checks the invariants: node names non-empty, sorted and unique.
func (c Clock) Valid() error {
	for i, e := range c {
		if e.Node == "" {
			return fmt.Errorf("vclock: entry %d has an empty node name", i)
		}
		if i > 0 && c[i-1].Node >= e.Node {
			return fmt.Errorf("vclock: entry %d (%q) not after %q: must be sorted and unique", i, e.Node, c[i-1].Node)
		}
	}
	return nil
}

// String formats the counters, e.g. [Sx:2 Sy:1].
func (c Clock) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range c {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.Node)
		b.WriteByte(':')
		b.WriteString(strconv.FormatUint(e.Counter, 10))
	}
	b.WriteByte(']')
	return b.String()
}
