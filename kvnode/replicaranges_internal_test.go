package kvnode

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/quorumlab/quorumlab/kvnode/ring"
)

// TestReplicaRanges: the groups cover every token exactly once, and every
// token of a group has the group's replicas as its preference list.
func TestReplicaRanges(t *testing.T) {
	for _, nodes := range []int{3, 5, 7} {
		t.Run(fmt.Sprint(nodes, " nodes"), func(t *testing.T) {
			var members []ring.Node
			for i := range nodes {
				members = append(members, ring.Node{ID: fmt.Sprintf("n%d", i+1)})
			}
			r, err := ring.New(members, 16)
			if err != nil {
				t.Fatal(err)
			}
			groups := replicaRanges(r, 3)
			if nodes == 3 && len(groups) != 1 {
				t.Fatalf("3 nodes, N=3: %d groups, want one", len(groups))
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for range 2000 {
				tok := rng.Uint64()
				in := 0
				for _, g := range groups {
					if !slices.ContainsFunc(g.ranges, func(rg ring.Range) bool { return rg.Contains(tok) }) {
						continue
					}
					in++
					if got := slices.Sorted(slices.Values(r.PreferenceListForToken(tok, 3))); !slices.Equal(got, g.replicas) {
						t.Fatalf("token %d in the group of %v, but its replicas are %v", tok, g.replicas, got)
					}
				}
				if in != 1 {
					t.Fatalf("token %d is in %d groups, want exactly one", tok, in)
				}
			}
		})
	}
}
