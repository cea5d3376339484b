package harness_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/nemesis"
	"github.com/quorumlab/quorumlab/target"
)

func TestValidateEtcd(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*harness.Config)
		want   string // "" accepts
	}{
		{"kills and pauses locally", func(c *harness.Config) { c.Nemesis.Faults = []string{nemesis.Kill, nemesis.Pause} }, ""},
		{"partitions in docker", func(c *harness.Config) { c.Backend, c.Nemesis.Faults = "docker", []string{nemesis.Partition} }, ""},
		{"partitions locally", func(c *harness.Config) { c.Nemesis.Faults = []string{nemesis.Partition} }, "needs --backend docker"},
		{"loss locally", func(c *harness.Config) { c.Nemesis.Faults = []string{nemesis.Loss} }, "needs --backend docker"},
		{"clock", func(c *harness.Config) { c.Backend, c.Nemesis.Faults = "docker", []string{nemesis.Clock} }, "no kvnode admin API"},
		{"membership", func(c *harness.Config) { c.Nemesis.Faults = []string{nemesis.Membership} }, "no kvnode admin API"},
		{"cas", func(c *harness.Config) { c.Workload.CASRatio = 0.5 }, ""},
		{"cas on kvnode", func(c *harness.Config) { c.Cluster.Target, c.Workload.CASRatio = target.KVNode, 0.5 }, "kvnode has no compare-and-set"},
		{"serializable on kvnode", func(c *harness.Config) { c.Cluster.Target, c.EtcdSerializable = target.KVNode, true }, "for --target etcd"},
		{"unknown target", func(c *harness.Config) { c.Cluster.Target = "redis" }, "unknown target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := harness.DefaultConfig()
			cfg.Cluster.Target = target.Etcd
			cfg.Nemesis.Faults = nil
			tt.mutate(&cfg)
			err := harness.Validate(cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// TestEtcdLocal: etcd members as processes of the local backend serve the
// register workload with compare-and-set through kills and pauses.
func TestEtcdLocal(t *testing.T) {
	if _, err := exec.LookPath("etcd"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("no etcd on $PATH (Debian: apt-get install etcd-server)")
	}
	out := runTest(t, func(c *harness.Config) {
		c.Cluster.Target = target.Etcd
		c.Cluster.Nodes = 3
		c.Workload.CASRatio = 0.3
		c.Workload.TimeLimit = 12 * time.Second
		c.Nemesis.Faults = []string{nemesis.Kill, nemesis.Pause}
	})
	if out.Results.Verdict != checker.Valid {
		t.Fatalf("etcd on the local backend: verdict %s, want valid (%+v)", out.Results.Verdict, out.Results.Linearizable)
	}
	if ok := out.Results.Availability.Total.OK; ok < 500 {
		t.Fatalf("only %d ok operations: etcd did not serve", ok)
	}
}
