package harness_test

import (
	"testing"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/kvnode/autoscale"
	"github.com/quorumlab/quorumlab/nemesis"
	"github.com/quorumlab/quorumlab/workload"
)

// TestAutoscale ramps an open-loop set workload up and down under an
// autoscaler: nodes must join as the rate rises and leave as it falls, and
// no acknowledged add may be lost, also with kills during the changes.
func TestAutoscale(t *testing.T) {
	for _, faults := range [][]string{nil, {nemesis.Kill}} {
		t.Run(map[bool]string{false: "no faults", true: "kills"}[faults != nil], func(t *testing.T) {
			out := runTest(t, func(c *harness.Config) {
				c.Cluster.Nodes, c.Cluster.Mode = 3, "vclock"
				c.Workload.Name, c.Workload.Keys, c.Workload.Concurrency = "set", 64, 32
				// 100 requests/s then 1200 (an add is a read and a write):
				// far above 3 × 150, and the low phase far below.
				c.Workload.RateProfile, _ = workload.ParseProfile("50:4s,600:16s,50:16s")
				c.Workload.TimeLimit = workload.ProfileLength(c.Workload.RateProfile)
				c.Nemesis.Faults = faults
				c.Nemesis.Interval = 4e9
				a, err := autoscale.ParseSpec("min=3,max=6,target-ops=150,sustain=2,cooldown=2s,interval=1s", 3)
				if err != nil {
					t.Fatal(err)
				}
				c.Autoscale = &a
			})
			res := out.Results
			if res.Verdict != checker.Valid || res.Set == nil || res.Set.Lost != 0 {
				t.Fatalf("verdict %s, set %+v: want valid with nothing lost", res.Verdict, res.Set)
			}
			s := res.Scaling
			if s == nil {
				t.Fatal("no scaling record in the results")
			}
			for _, c := range s.Changes {
				t.Logf("%.1f–%.1f s %s %s (%s): %d nodes at %.0f req/s each → %d at %.0f; ok %v %s", c.Start, c.End, c.Action, c.Node, c.Reason, c.NodesBefore, c.LoadBefore, c.NodesAfter, c.LoadAfter, c.OK, c.Error)
			}
			if s.Adds == 0 || s.Removes == 0 {
				t.Fatalf("%d adds and %d removes: want nodes to join as the rate rose and leave as it fell", s.Adds, s.Removes)
			}
		})
	}
}
