package harness_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/nemesis"
	"github.com/quorumlab/quorumlab/results"
)

// TestSetDeletes deletes keys under partitions and kills with tombstones
// collected after 300 ms: deleted elements must stay gone and the rest
// must survive, in every mode.
func TestSetDeletes(t *testing.T) {
	for _, mode := range []string{"vclock", "lww"} {
		t.Run(mode, func(t *testing.T) {
			out := runTest(t, func(c *harness.Config) {
				c.Cluster.Mode = mode
				c.Cluster.TombstoneGrace = 300 * time.Millisecond
				c.Workload.Name = "set"
				c.Workload.DeleteRatio = 0.1
				c.Workload.WritersPerKey = 1
				c.Workload.Keys = 10
				c.Workload.TimeLimit = 12 * time.Second
				c.Nemesis.Faults = []string{nemesis.Partition, nemesis.Kill}
			})
			set := out.Results.Set
			if set == nil || out.Results.Verdict != checker.Valid || set.Lost != 0 || set.Resurrected != 0 {
				t.Fatalf("set with deletes: verdict %s, %+v; want nothing lost or resurrected", out.Results.Verdict, set)
			}
			if set.Deleted < 100 {
				t.Fatalf("only %d deleted elements: the deletes were not exercised", set.Deleted)
			}
			ops, _, err := history.ReadFile(filepath.Join(out.Dir, results.HistoryFile))
			if err != nil {
				t.Fatal(err)
			}
			if m := history.SetModel(ops); m != history.ModelDeletesFinal {
				t.Fatalf("set model %q: strict quorums should make deletes final", m)
			}
			t.Logf("deleted %d of %d acknowledged", set.Deleted, set.Acknowledged)
		})
	}
}
