package docker_test

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/nemesis"
	"github.com/quorumlab/quorumlab/target"
)

// runEtcd runs one test on a 3-member etcd cluster in containers.
func runEtcd(t *testing.T, mutate func(*harness.Config)) dockerOutcome {
	t.Helper()
	if _, err := exec.LookPath("etcd"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("no etcd on $PATH (Debian: apt-get install etcd-server)")
	}
	return runDocker(t, func(c *harness.Config) {
		c.Cluster.Target = target.Etcd
		c.Cluster.Nodes = 3
		c.Workload.TimeLimit = 20 * time.Second
		c.Nemesis.Interval = 2 * time.Second
		mutate(c)
	})
}

// TestDockerEtcdRegisterWithCas: etcd's linearizable reads, writes and
// compare-and-set stay linearizable through partitions, kills and pauses.
func TestDockerEtcdRegisterWithCas(t *testing.T) {
	out := runEtcd(t, func(c *harness.Config) {
		c.Workload.CASRatio = 0.3
		c.Nemesis.Faults = []string{nemesis.Partition, nemesis.Kill, nemesis.Pause}
	})
	if out.Results.Verdict != checker.Valid {
		t.Fatalf("etcd register with cas under partitions, kills, pauses: verdict %s, want valid (%+v)",
			out.Results.Verdict, out.Results.Linearizable)
	}
	var cas checker.OpStats
	for _, s := range out.Results.Stats.Ops {
		if s.F == history.FCas {
			cas = s
		}
	}
	if cas.OK < 50 || cas.Fail < 5 {
		t.Fatalf("cas ok %d, fail %d: the run did not exercise compare-and-set both ways", cas.OK, cas.Fail)
	}
}

// TestDockerEtcdSerializableReadsAreStale: serializable reads from a
// member cut off from the leader return old values; the checker must see
// it (etcd documents such reads as possibly stale).
func TestDockerEtcdSerializableReadsAreStale(t *testing.T) {
	out := runEtcd(t, func(c *harness.Config) {
		c.EtcdSerializable = true
		c.Nemesis.Faults = []string{nemesis.Partition}
		c.Nemesis.Shape = nemesis.IsolateOne
	})
	if out.Results.Verdict != checker.Invalid {
		t.Fatalf("etcd serializable reads under partitions: verdict %s, want invalid", out.Results.Verdict)
	}
	if s := out.Results.Staleness; s == nil || s.Stale == 0 {
		t.Fatalf("no stale reads counted: %+v", s)
	}
}

// TestDockerEtcdSetLosesNothing: adds as reads and revision-conditional
// writes lose nothing acknowledged through partitions and kills.
func TestDockerEtcdSetLosesNothing(t *testing.T) {
	out := runEtcd(t, func(c *harness.Config) {
		c.Workload.Name = "set"
		c.Nemesis.Faults = []string{nemesis.Partition, nemesis.Kill}
	})
	set := out.Results.Set
	if set == nil || out.Results.Verdict != checker.Valid || set.Lost != 0 {
		t.Fatalf("etcd set under partitions and kills: verdict %s, set %+v; want nothing lost", out.Results.Verdict, set)
	}
	if set.Acknowledged < 100 {
		t.Fatalf("only %d acknowledged adds: the test did not exercise the cluster", set.Acknowledged)
	}
}
