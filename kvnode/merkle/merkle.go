// Package merkle builds the hash trees anti-entropy compares. It is pure
// code: the caller feeds it (token, hash) pairs from storage, and the RPC
// loop that exchanges trees lives in kvnode.
//
// A tree of depth d has 2^d leaves, each covering an equal slice of the
// 64-bit token space (leaf i holds the tokens whose top d bits are i). A
// leaf's hash depends only on the set of entries in it, not on the order
// they were added in, so two replicas agree on a leaf exactly when they hold
// the same entries, however they scanned them. Inner nodes hash their two
// children; the root summarizes everything.
package merkle

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cespare/xxhash/v2"
)

// MaxDepth bounds the tree size (2^20 leaves, 8 MiB of leaf hashes).
const MaxDepth = 20

// Tree is a Merkle tree under construction: Add entries, then read Leaves
// and Root.
type Tree struct {
	depth  uint
	sums   []uint64 // per leaf: sum of the entries' mixed hashes
	counts []uint64 // per leaf: number of entries
}

// New returns an empty tree of the given depth (0..MaxDepth).
func New(depth int) (*Tree, error) {
	if depth < 0 || depth > MaxDepth {
		return nil, fmt.Errorf("merkle: depth %d: must be between 0 and %d", depth, MaxDepth)
	}
	return &Tree{depth: uint(depth), sums: make([]uint64, 1<<depth), counts: make([]uint64, 1<<depth)}, nil
}

// Depth is the tree's depth.
func (t *Tree) Depth() int { return int(t.depth) }

// Leaf returns the leaf a token falls in, for a tree of the given depth.
func Leaf(token uint64, depth int) uint32 {
	if depth == 0 {
		return 0
	}
	return uint32(token >> (64 - uint(depth)))
}

// Add adds an entry: its token and the hash of its content (see Hash).
func (t *Tree) Add(token, h uint64) {
	i := Leaf(token, int(t.depth))
	// Summing raw hashes would let two entries' differences cancel out
	// too easily; summing a second hash of each keeps the leaf a good
	// set hash that is still independent of order.
	t.sums[i] += mix(h)
	t.counts[i]++
}

func mix(h uint64) uint64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], h)
	return xxhash.Sum64(b[:])
}

// Leaves returns the leaf hashes. An empty leaf hashes to 0.
func (t *Tree) Leaves() []uint64 {
	out := make([]uint64, len(t.sums))
	var b [16]byte
	for i := range t.sums {
		if t.counts[i] == 0 {
			continue
		}
		binary.LittleEndian.PutUint64(b[:8], t.sums[i])
		binary.LittleEndian.PutUint64(b[8:], t.counts[i])
		out[i] = xxhash.Sum64(b[:]) | 1 // never 0, the empty leaf
	}
	return out
}

// Root returns the root hash of the tree whose leaves are given (a power
// of two of them).
func Root(leaves []uint64) uint64 {
	level := slices.Clone(leaves)
	var b [16]byte
	for len(level) > 1 {
		next := level[:len(level)/2]
		for i := range next {
			l, r := level[2*i], level[2*i+1]
			if l == 0 && r == 0 {
				next[i] = 0 // empty subtrees stay 0
				continue
			}
			binary.LittleEndian.PutUint64(b[:8], l)
			binary.LittleEndian.PutUint64(b[8:], r)
			next[i] = xxhash.Sum64(b[:])
		}
		level = next
	}
	if len(level) == 0 {
		return 0
	}
	return level[0]
}

// Root returns the tree's root hash.
func (t *Tree) Root() uint64 { return Root(t.Leaves()) }

// Diff returns the indexes of the leaves that differ between two trees of
// the same depth, or an error if the depths differ.
func Diff(a, b []uint64) ([]uint32, error) {
	if len(a) != len(b) {
		return nil, fmt.Errorf("merkle: trees of %d and %d leaves", len(a), len(b))
	}
	var out []uint32
	for i := range a {
		if a[i] != b[i] {
			out = append(out, uint32(i))
		}
	}
	return out, nil
}

// Hash returns an entry's hash from its key and the encodings of its
// versions. The versions' order does not matter: replicas may hold the same
// versions in different orders.
func Hash(key []byte, versions [][]byte) uint64 {
	var sum uint64
	for _, v := range versions {
		sum += mix(xxhash.Sum64(v))
	}
	d := xxhash.New()
	d.Write(key)
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], sum)
	binary.LittleEndian.PutUint64(b[8:], uint64(len(versions)))
	d.Write(b[:])
	return d.Sum64()
}
