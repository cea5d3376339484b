package harness_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/nemesis"
)

// TestHomeReplicasPartition cuts a key's home replicas off from the other
// nodes under sloppy quorums: the writes there must go to hints, the hints
// must be delivered after the heal, and nothing may be lost.
func TestHomeReplicasPartition(t *testing.T) {
	out := runTest(t, func(c *harness.Config) {
		c.Cluster.Mode = "vclock"
		c.Cluster.Sloppy = true
		c.Workload.Name = "set"
		c.Workload.TimeLimit = 15 * time.Second
		c.Nemesis.Faults = []string{nemesis.Partition}
		c.Nemesis.Shape = nemesis.HomeReplicas
		c.Nemesis.Interval = 2 * time.Second
	})
	set, conv := out.Results.Set, out.Results.Convergence
	if set == nil || conv == nil || out.Results.Verdict != checker.Valid || set.Lost != 0 {
		t.Fatalf("home-replica partitions with sloppy quorums: verdict %s, set %+v, convergence %+v; want nothing lost", out.Results.Verdict, set, conv)
	}
	if conv.HintsStored == 0 || conv.HintsDelivered == 0 {
		t.Fatalf("hints stored %d, delivered %d: the partition did not exercise hinted handoff", conv.HintsStored, conv.HintsDelivered)
	}
	t.Logf("hints stored %d, delivered %d", conv.HintsStored, conv.HintsDelivered)
	ops := runHistory(t, out.Dir)
	aimed := 0
	for _, op := range ops {
		if op.F != "start-"+nemesis.Partition {
			continue
		}
		var v struct {
			Shape string
			Keys  map[string][]string
		}
		if err := json.Unmarshal(op.Value, &v); err != nil || v.Shape != nemesis.HomeReplicas || len(v.Keys) != 1 {
			t.Fatalf("partition %s: want the shape and its one targeted key (%v)", op.Value, err)
		}
		for _, homes := range v.Keys {
			if len(homes) != 3 {
				t.Fatalf("partition %s: want the key's 3 home replicas", op.Value)
			}
		}
		aimed++
	}
	if aimed < 2 {
		t.Fatalf("%d aimed partitions; want repeated ones", aimed)
	}
}

// TestHintHolderFlapping cuts the node holding hints off and on every
// 100 ms while it delivers them (and, while none holds any, a key's home
// replicas, which makes some): handoff cut short again and again must
// still deliver everything and lose nothing.
func TestHintHolderFlapping(t *testing.T) {
	out := runTest(t, func(c *harness.Config) {
		c.Cluster.Mode = "vclock"
		c.Cluster.Sloppy = true
		c.Workload.Name = "set"
		c.Workload.TimeLimit = 16 * time.Second
		c.Nemesis.Faults = []string{nemesis.Partition}
		c.Nemesis.Shape = nemesis.HintHolder
		c.Nemesis.Flap = 100 * time.Millisecond
		c.Nemesis.Interval = 2 * time.Second
	})
	set, conv := out.Results.Set, out.Results.Convergence
	if set == nil || conv == nil || out.Results.Verdict != checker.Valid || set.Lost != 0 || len(conv.Hints) != 0 {
		t.Fatalf("flapping hint-holder partitions: verdict %s, set %+v, convergence %+v; want nothing lost, no hint left", out.Results.Verdict, set, conv)
	}
	ops := runHistory(t, out.Dir)
	shapes := map[string]int{}
	for _, op := range ops {
		if op.F == "flap-"+nemesis.HintHolder {
			shapes["flap-"+nemesis.HintHolder]++
		}
		if op.F != "start-"+nemesis.Partition {
			continue
		}
		var v struct{ Shape, Flap, Node string }
		if err := json.Unmarshal(op.Value, &v); err != nil || v.Flap != "100ms" {
			t.Fatalf("partition %s: want a flapping one (%v)", op.Value, err)
		}
		shapes[v.Shape]++
	}
	t.Logf("partitions by shape %v; hints stored %d, delivered %d", shapes, conv.HintsStored, conv.HintsDelivered)
	if shapes[nemesis.HintHolder]+shapes["flap-"+nemesis.HintHolder] == 0 || shapes[nemesis.HomeReplicas] == 0 {
		t.Fatalf("partitions by shape %v: want home-replica cuts that make hints and hint-holder cuts that flap their delivery", shapes)
	}
}
