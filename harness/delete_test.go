package harness_test

import (
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/nemesis"
)

// TestSetDeletes deletes keys under partitions and kills: deleted elements
// must stay gone and the rest must survive. With tombstones collected
// after 300 ms the run no longer claims deletes final (a replica that
// missed a delete may legitimately bring an element back), but it still
// loses nothing.
func TestSetDeletes(t *testing.T) {
	tests := []struct {
		mode  string
		grace time.Duration
		final bool
	}{
		{"vclock", 0, true},
		{"lww", 0, true},
		{"vclock", 300 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.mode+"/grace="+tt.grace.String(), func(t *testing.T) {
			out := runTest(t, func(c *harness.Config) {
				c.Cluster.Mode = tt.mode
				c.Cluster.TombstoneGrace = tt.grace
				c.Workload.Name = "set"
				c.Workload.DeleteRatio = 0.1
				c.Workload.WritersPerKey = 1
				c.Workload.Keys = 10
				c.Workload.TimeLimit = 12 * time.Second
				c.Nemesis.Faults = []string{nemesis.Partition, nemesis.Kill}
			})
			set := out.Results.Set
			if set == nil || out.Results.Verdict != checker.Valid || set.Lost != 0 || (tt.final && set.Resurrected != 0) {
				t.Fatalf("set with deletes: verdict %s, %+v; want nothing lost or resurrected", out.Results.Verdict, set)
			}
			if set.Deleted < 100 {
				t.Fatalf("only %d deleted elements: the deletes were not exercised", set.Deleted)
			}
			ops := runHistory(t, out.Dir)
			if m := history.SetModel(ops); (m == history.ModelDeletesFinal) != tt.final {
				t.Fatalf("set model %q; want deletes final: %v", m, tt.final)
			}
			t.Logf("deleted %d of %d acknowledged, %d resurrected", set.Deleted, set.Acknowledged, set.Resurrected)
		})
	}
}
