// Package quorum holds the rules an N/W/R setting obeys, in one place for
// the node, the harness and comparisons.
package quorum

import "fmt"

// Validate checks N, W and R on a cluster of nodes nodes (0: the size is
// not fixed, as with gossip membership). Linearizable (ABD) reads and
// writes need their quorums to overlap.
func Validate(nodes, n, w, r int, linearizable bool) error {
	switch {
	case nodes > 0 && (n < 1 || n > nodes):
		return fmt.Errorf("N=%d: must be between 1 and the number of nodes (%d)", n, nodes)
	case n < 1:
		return fmt.Errorf("N=%d: must be at least 1", n)
	case w < 1 || w > n || r < 1 || r > n:
		return fmt.Errorf("W=%d R=%d: both must be between 1 and N=%d", w, r, n)
	}
	return Overlap(n, w, r, linearizable)
}

// Overlap is the linearizable mode's rule alone: W + R > N, so that every
// read quorum meets every write quorum.
func Overlap(n, w, r int, linearizable bool) error {
	if linearizable && w+r <= n {
		return fmt.Errorf("mode linearizable needs W + R > N so read and write quorums overlap; got N=%d W=%d R=%d", n, w, r)
	}
	return nil
}
