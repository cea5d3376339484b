package ring

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// inRanges reports whether t lies in one of rs.
func inRanges(rs []Range, t uint64) bool {
	for _, r := range rs {
		if r.Contains(t) {
			return true
		}
	}
	return false
}

func TestSegments(t *testing.T) {
	before := mustNew(t, nodesN(4), 16)
	after := mustNew(t, append(nodesN(4), Node{ID: "new"}), 16)
	rng := rand.New(rand.NewPCG(7, 7))
	tests := []struct {
		name  string
		rings []*Ring
		keep  func(prefs [][]string) bool
	}{
		{"replicas that change on a join", []*Ring{before, after}, func(p [][]string) bool { return !slices.Equal(p[0], p[1]) }},
		{"ranges the new node gains", []*Ring{before, after}, func(p [][]string) bool {
			return slices.Contains(p[1], "new") && !slices.Contains(p[0], "new")
		}},
		{"ranges node-0 loses", []*Ring{before, after}, func(p [][]string) bool {
			return slices.Contains(p[0], "node-0") && !slices.Contains(p[1], "node-0")
		}},
		{"shared by node-1 and node-2", []*Ring{after}, func(p [][]string) bool {
			return slices.Contains(p[0], "node-1") && slices.Contains(p[0], "node-2")
		}},
		{"everything", []*Ring{before}, func([][]string) bool { return true }},
		{"nothing", []*Ring{before}, func([][]string) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := Segments(tt.rings, 3, tt.keep)
			// Brute force: a token is in the result iff keep holds for the
			// preference lists at that token. Probe random tokens and every
			// token of every ring (the boundaries) and its neighbours.
			probe := []uint64{0, ^uint64(0)}
			for range 3000 {
				probe = append(probe, rng.Uint64())
			}
			for _, r := range tt.rings {
				for _, tok := range r.tokens {
					probe = append(probe, tok, tok-1, tok+1)
				}
			}
			for _, tok := range probe {
				prefs := make([][]string, len(tt.rings))
				for i, r := range tt.rings {
					prefs[i] = r.PreferenceListForToken(tok, 3)
				}
				if want := tt.keep(prefs); inRanges(rs, tok) != want {
					t.Fatalf("token %#x: in ranges %v, want %v", tok, !want, want)
				}
			}
			// Adjacent ranges are joined.
			for i := 1; i < len(rs); i++ {
				if rs[i-1].End == rs[i].Start {
					t.Fatalf("ranges %d and %d touch: %v", i-1, i, rs)
				}
			}
		})
	}
}
