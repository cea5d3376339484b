package harness_test

import (
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/nemesis"
)

func TestVClockSetSurvivesMembershipChanges(t *testing.T) {
	out := runTest(t, func(c *harness.Config) {
		c.Cluster.Mode = "vclock"
		c.Workload.Name = "set"
		c.Workload.TimeLimit = 40 * time.Second
		c.Nemesis.Faults = []string{nemesis.Membership, nemesis.Partition, nemesis.Kill}
	})
	set := out.Results.Set
	if set == nil || out.Results.Verdict != checker.Valid || set.Lost != 0 {
		t.Fatalf("vclock set under ring changes, partitions and kills: verdict %s, set %+v; want nothing lost", out.Results.Verdict, set)
	}
	if set.Acknowledged < 500 {
		t.Fatalf("only %d acknowledged adds: the test did not exercise the cluster", set.Acknowledged)
	}
	ops := runHistory(t, out.Dir)
	changes, err := nemesis.RingChanges(history.Faults(ops))
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, c := range changes {
		actions[c.Action]++
		t.Logf("membership change: %s %s", c.Action, c.Node)
	}
	if actions[nemesis.AddNode]+actions[nemesis.Rejoin] == 0 || actions[nemesis.Decommission] == 0 {
		t.Fatalf("ring changes in the history: %v; want a join and a decommission", actions)
	}
}
