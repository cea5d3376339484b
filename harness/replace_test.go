package harness_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/nemesis"
)

// TestRollingReplacement replaces every node of a 3-node cluster under
// load: every acknowledged add must survive on nodes that got it only
// through transfers, and the final reads go through the new nodes.
func TestRollingReplacement(t *testing.T) {
	out := runTest(t, func(c *harness.Config) {
		c.Cluster.Nodes = 3
		c.Cluster.Mode = "vclock"
		c.Workload.Name = "set"
		c.Workload.TimeLimit = 30 * time.Second
		c.Nemesis.Faults = []string{nemesis.Replace}
		c.Nemesis.Interval = time.Second
		c.ColdKeys = 50
	})
	set := out.Results.Set
	if set == nil || out.Results.Verdict != checker.Valid || set.Lost != 0 {
		t.Fatalf("vclock set under a rolling replacement: verdict %s, set %+v; want nothing lost", out.Results.Verdict, set)
	}
	if set.Acknowledged < 300 {
		t.Fatalf("only %d acknowledged adds: the test did not exercise the cluster", set.Acknowledged)
	}
	ops := runHistory(t, out.Dir)
	var removed []string
	for _, op := range ops {
		if op.F != "start-"+nemesis.Replace {
			continue
		}
		var v struct{ Add, Remove string }
		if err := json.Unmarshal(op.Value, &v); err != nil || v.Add == "" {
			t.Fatalf("replace fault %s: %v", op.Value, err)
		}
		t.Logf("replaced %s by %s", v.Remove, v.Add)
		removed = append(removed, v.Remove)
	}
	slices.Sort(removed)
	if !slices.Equal(removed, []string{"n1", "n2", "n3"}) {
		t.Fatalf("replaced %v; want every original node", removed)
	}
	// Each replacement wrote 50 cold keys and read them back twice (after
	// the join, after the decommission), and the final reads once more.
	coldAdds, coldReads := 0, 0
	for _, op := range ops {
		if op.Type == history.OK && strings.HasPrefix(op.Key, "s-cold") {
			switch op.F {
			case history.FAdd:
				coldAdds++
			case history.FRead:
				coldReads++
			}
		}
	}
	if coldAdds != 150 || coldReads < 300 {
		t.Fatalf("cold keys: %d adds, %d reads ok; want 150 adds and at least 300 reads", coldAdds, coldReads)
	}
	// The final reads went through the replacements only.
	for _, op := range ops {
		if op.Process >= 1<<20 && !strings.HasPrefix(op.Key, "s-cold") && op.Type == history.OK && slices.Contains(removed, op.Node) {
			t.Fatalf("final read through retired node %s", op.Node)
		}
	}
}
