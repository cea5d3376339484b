// Package ring places keys on nodes by consistent hashing over virtual
// nodes and builds the preference lists that choose a key's replicas.
//
// A Ring is immutable once built and safe for concurrent use; membership
// changes build a new Ring.
package ring

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/cespare/xxhash/v2"
)

// Token is the stable 64-bit hash of a key (xxhash64 of the key bytes).
func Token(key []byte) uint64 { return xxhash.Sum64(key) }

// Node is a ring member.
type Node struct {
	ID     string
	Zone   string // failure domain; "" counts as a zone like any other
	Weight int    // the node owns vnodes*Weight tokens; Weight<=0 means 1
}

// Range is a token range (Start, End]. It wraps past zero when
// Start >= End, so Start == End is the whole ring.
type Range struct{ Start, End uint64 }

// Contains reports whether t lies in (Start, End].
func (rg Range) Contains(t uint64) bool {
	if rg.Start < rg.End {
		return rg.Start < t && t <= rg.End
	}
	return t > rg.Start || t <= rg.End
}

// Ring is a consistent-hash ring: a key belongs to the first token at or
// after its own token, wrapping past zero.
type Ring struct {
	nodes  []Node  // sorted by ID
	zone   []int32 // zone[i] is the zone number of nodes[i]
	nzones int
	tokens []uint64 // ascending
	owner  []int32  // owner[i] indexes nodes: the node holding tokens[i]
}

// vnode is one token of one node (an index into the sorted nodes).
type vnode struct {
	token uint64
	node  int32
}

// New builds the ring. Each node owns vnodes*weight tokens, the xxhash of
// "id#i", so the ring depends only on the membership set: every node
// computes the same ring, whatever the order of nodes.
func New(nodes []Node, vnodes int) (*Ring, error) {
	if vnodes < 1 {
		return nil, fmt.Errorf("ring: vnodes must be at least 1, got %d", vnodes)
	}
	sorted := slices.Clone(nodes)
	slices.SortFunc(sorted, func(a, b Node) int { return cmp.Compare(a.ID, b.ID) })
	var vns []vnode
	for i, n := range sorted {
		if n.ID == "" {
			return nil, errors.New("ring: empty node id")
		}
		if i > 0 && sorted[i-1].ID == n.ID {
			return nil, fmt.Errorf("ring: duplicate node id %q", n.ID)
		}
		// Token j of a node does not depend on its weight, so raising a
		// weight only adds tokens and moves the fewest keys.
		for j := range vnodes * max(n.Weight, 1) {
			t := xxhash.Sum64String(n.ID + "#" + strconv.Itoa(j))
			vns = append(vns, vnode{token: t, node: int32(i)})
		}
	}
	return build(sorted, vns), nil
}

// build makes a ring from nodes sorted by unique id and their tokens.
// Tests call it directly to place tokens by hand.
func build(nodes []Node, vns []vnode) *Ring {
	// Equal tokens (hash collisions) are ordered by node id, so the
	// result never depends on input order.
	slices.SortFunc(vns, func(a, b vnode) int {
		return cmp.Or(cmp.Compare(a.token, b.token), cmp.Compare(a.node, b.node))
	})
	r := &Ring{
		nodes:  nodes,
		zone:   make([]int32, len(nodes)),
		tokens: make([]uint64, len(vns)),
		owner:  make([]int32, len(vns)),
	}
	zones := map[string]int32{}
	for i, n := range nodes {
		z, ok := zones[n.Zone]
		if !ok {
			z = int32(len(zones))
			zones[n.Zone] = z
		}
		r.zone[i] = z
	}
	r.nzones = len(zones)
	for i, v := range vns {
		r.tokens[i], r.owner[i] = v.token, v.node
	}
	return r
}

// Nodes returns the members sorted by id, as they were given to New.
func (r *Ring) Nodes() []Node { return slices.Clone(r.nodes) }

// Node returns the member with the given id.
func (r *Ring) Node(id string) (Node, bool) {
	i, ok := r.index(id)
	if !ok {
		return Node{}, false
	}
	return r.nodes[i], true
}

func (r *Ring) index(id string) (int, bool) {
	return slices.BinarySearchFunc(r.nodes, id, func(n Node, id string) int { return cmp.Compare(n.ID, id) })
}

// PreferenceList returns up to n distinct node ids for key; see
// PreferenceListForToken.
func (r *Ring) PreferenceList(key []byte, n int) []string {
	return r.PreferenceListForToken(Token(key), n)
}

// PreferenceListForToken walks clockwise from t and returns up to n
// distinct node ids (all nodes if n exceeds their number). Until every
// zone has a node in the list, nodes of zones already in it are set aside;
// once the last zone joins, the set-aside nodes follow in walk order, then
// the rest of the walk. The order does not depend on n, so a longer list
// (for sloppy quorums) always extends a shorter one.
func (r *Ring) PreferenceListForToken(t uint64, n int) []string {
	n = min(n, len(r.nodes))
	if n <= 0 {
		return nil
	}
	out := make([]string, 0, n)
	// Small fixed buffers keep the common case free of extra allocations.
	var nodeBuf, zoneBuf [2]uint64
	var deferBuf [8]int32
	visited := newBits(len(r.nodes), nodeBuf[:])
	zoneSeen := newBits(r.nzones, zoneBuf[:])
	zonesLeft := r.nzones
	deferred := deferBuf[:0]

	start, _ := slices.BinarySearch(r.tokens, t) // first token >= t
	for k := 0; k < len(r.tokens) && len(out) < n; k++ {
		i := start + k
		if i >= len(r.tokens) {
			i -= len(r.tokens)
		}
		node := r.owner[i]
		if visited.has(node) {
			continue
		}
		visited.set(node)
		z := r.zone[node]
		switch {
		case zonesLeft == 0:
			out = append(out, r.nodes[node].ID)
		case zoneSeen.has(z):
			deferred = append(deferred, node)
		default:
			zoneSeen.set(z)
			zonesLeft--
			out = append(out, r.nodes[node].ID)
			if zonesLeft == 0 {
				for _, d := range deferred[:min(len(deferred), n-len(out))] {
					out = append(out, r.nodes[d].ID)
				}
			}
		}
	}
	return out
}

// Share returns, for every node id, the fraction of the token space
// (0..1) for which that node is first in the preference list.
func (r *Ring) Share() map[string]float64 {
	s := make(map[string]float64, len(r.nodes))
	for _, n := range r.nodes {
		s[n.ID] = 0
	}
	for i := range r.tokens {
		s[r.nodes[r.owner[i]].ID] += r.width(i) / (1 << 64)
	}
	return s
}

// width is the size of the range ending at tokens[i], as a float so the
// whole ring (2^64) fits.
func (r *Ring) width(i int) float64 {
	rg := r.rangeAt(i)
	if rg.Start == rg.End && i == 0 {
		return 1 << 64 // all tokens equal: tokens[0] owns everything
	}
	return float64(rg.End - rg.Start) // wraps correctly in uint64
}

// rangeAt is the range (previous token, tokens[i]].
func (r *Ring) rangeAt(i int) Range {
	prev := i - 1
	if prev < 0 {
		prev = len(r.tokens) - 1
	}
	return Range{Start: r.tokens[prev], End: r.tokens[i]}
}

// Ranges returns, in ring order and with adjacent ranges joined, the token
// ranges for which id is among the first n of the preference list.
func (r *Ring) Ranges(id string, n int) []Range {
	if _, ok := r.index(id); !ok || n <= 0 {
		return nil
	}
	return Segments([]*Ring{r}, n, func(prefs [][]string) bool { return slices.Contains(prefs[0], id) })
}

// Segments returns, in ring order and with adjacent ranges joined, the token
// ranges where keep holds. It cuts the token space at every token of every
// ring, so within one segment each ring's preference list is the same; keep
// gets the first n of each ring's list, in the order of rings. Ring changes
// compare the rings before and after with it.
func Segments(rings []*Ring, n int, keep func(prefs [][]string) bool) []Range {
	bounds := boundaries(rings)
	var out []Range
	prefs := make([][]string, len(rings))
	for i, b := range bounds {
		// Every token of a segment shares the walk starting at its end.
		for j, r := range rings {
			prefs[j] = r.PreferenceListForToken(b, n)
		}
		if !keep(prefs) {
			continue
		}
		prev := i - 1
		if prev < 0 {
			prev = len(bounds) - 1
		}
		rg := Range{Start: bounds[prev], End: b}
		if k := len(out); k > 0 && out[k-1].End == rg.Start {
			out[k-1].End = rg.End
			continue
		}
		out = append(out, rg)
	}
	// Join the range ending at the last bound with the one wrapping past zero.
	if k := len(out); k > 1 && out[k-1].End == out[0].Start {
		out[0].Start = out[k-1].Start
		out = out[:k-1]
	}
	return out
}

// boundaries is the sorted union of the rings' tokens, without duplicates.
func boundaries(rings []*Ring) []uint64 {
	var all []uint64
	for _, r := range rings {
		all = append(all, r.tokens...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// Len is the number of nodes.
func (r *Ring) Len() int { return len(r.nodes) }

// bits is a fixed-size bit set.
type bits []uint64

// newBits returns a cleared set of n bits, in buf when it is large enough.
func newBits(n int, buf []uint64) bits {
	w := (n + 63) / 64
	if w <= len(buf) {
		clear(buf[:w])
		return buf[:w]
	}
	return make(bits, w)
}

func (b bits) has(i int32) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func (b bits) set(i int32)      { b[i>>6] |= 1 << (i & 63) }
