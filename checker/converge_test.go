package checker

import (
	"testing"

	"github.com/quorumlab/quorumlab/history"
)

func TestConvergenceRecords(t *testing.T) {
	rec := func(f, key string, v any) history.Op {
		return history.Op{Process: history.NemesisProcess, Type: history.Info, F: f, Key: key, Value: history.JSON(v)}
	}
	same := history.Replica{Digest: "a", Values: []string{"1"}}
	tests := []struct {
		name     string
		ops      []history.Op
		verdict  Verdict
		diverged int
	}{
		{"replicas agree", []history.Op{
			rec(history.FConverge, "r0", history.Convergence{Replicas: map[string]history.Replica{"n1": same, "n2": same}}),
			rec(history.FHints, "", history.Hints{Node: "n1"}),
		}, Valid, 0},
		{"a replica holds other versions", []history.Op{
			rec(history.FConverge, "r0", history.Convergence{Replicas: map[string]history.Replica{"n1": same, "n2": {Digest: "b"}}}),
		}, Invalid, 1},
		{"hints left undelivered", []history.Op{
			rec(history.FConverge, "r0", history.Convergence{Replicas: map[string]history.Replica{"n1": same, "n2": same}}),
			rec(history.FHints, "", history.Hints{Node: "n2", Hints: 3}),
		}, Invalid, 0},
		{"an unreadable replica is no evidence", []history.Op{
			rec(history.FConverge, "r0", history.Convergence{Replicas: map[string]history.Replica{"n1": same, "n2": {Error: "unavailable"}}}),
		}, Unknown, 0},
		{"a corrupt record is no evidence", []history.Op{
			{Process: history.NemesisProcess, Type: history.Info, F: history.FConverge, Key: "r0", Value: []byte(`"oops"`)},
		}, Unknown, 0},
		{"Merkle roots agree", []history.Op{
			rec(history.FMerkle, "", history.MerkleRoots{Ranges: 4, Roots: []history.Root{{Node: "n1", Root: "ab", Keys: 3}, {Node: "n2", Root: "ab", Keys: 3}}}),
		}, Valid, 0},
		{"Merkle roots differ where no key was compared", []history.Op{
			rec(history.FConverge, "r0", history.Convergence{Replicas: map[string]history.Replica{"n1": same, "n2": same}}),
			rec(history.FMerkle, "", history.MerkleRoots{Ranges: 4, Roots: []history.Root{{Node: "n1", Root: "ab", Keys: 3}, {Node: "n2", Root: "cd", Keys: 2}}}),
		}, Invalid, 0},
		{"an unread Merkle root is no evidence", []history.Op{
			rec(history.FMerkle, "", history.MerkleRoots{Ranges: 4, Roots: []history.Root{{Node: "n1", Root: "ab"}, {Node: "n2", Error: "unavailable"}}}),
		}, Unknown, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := convergence(tt.ops)
			if c == nil || c.Verdict != tt.verdict || c.DivergedCount != tt.diverged {
				t.Fatalf("got %+v, want %s with %d diverged", c, tt.verdict, tt.diverged)
			}
		})
	}
	if convergence(nil) != nil {
		t.Error("no records gave a convergence result")
	}
}
