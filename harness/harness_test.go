package harness_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/local"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/nemesis"
	"github.com/quorumlab/quorumlab/results"
)

// TestMain runs the tests inside a private user+network namespace, as
// `quorumlab run` runs itself, so partitions are real nftables rules.
func TestMain(m *testing.M) {
	if !local.InNamespace() {
		code, err := local.Reexec(context.Background())
		if err == nil {
			os.Exit(code)
		}
		if !errors.Is(err, local.ErrNoNamespace) || os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "re-executing the tests in a namespace:", err)
			os.Exit(3)
		}
		fmt.Fprintln(os.Stderr, "running without a private namespace; network fault tests will skip:", err)
	}
	os.Exit(m.Run())
}

func runTest(t *testing.T, mutate func(*harness.Config)) harness.Outcome {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end run; skipped with -short")
	}
	cfg := harness.DefaultConfig()
	cfg.Store = t.TempDir()
	cfg.Workload.TimeLimit = 25 * time.Second
	// Short phases (0.75–2.25 s): a round of every requested kind fits in
	// the run with room to spare on a loaded 2-core machine.
	cfg.Nemesis.Interval = 1500 * time.Millisecond
	cfg.Cluster.Nodes = 5
	mutate(&cfg)
	for _, f := range cfg.Nemesis.Faults {
		if (f == nemesis.Partition || f == nemesis.Loss || f == nemesis.Delay) && !local.InNamespace() {
			t.Skip("network faults need a private network namespace")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := harness.Run(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatalf("run failed: %v", err)
	}
	for _, f := range []string{results.TestFile, results.HistoryFile, results.ResultsFile} {
		if _, err := os.Stat(filepath.Join(out.Dir, f)); err != nil {
			t.Errorf("run dir lacks %s: %v", f, err)
		}
	}
	var test struct {
		ClusterStart float64 `json:"cluster_start_s"`
	}
	if b, err := os.ReadFile(filepath.Join(out.Dir, results.TestFile)); err != nil || json.Unmarshal(b, &test) != nil || test.ClusterStart <= 0 {
		t.Errorf("test.json lacks the cluster start time (%v): %+v", err, test)
	}
	ops, _, err := history.ReadFile(filepath.Join(out.Dir, results.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	faults := history.Faults(ops)
	for _, kind := range cfg.Nemesis.Faults {
		if !slices.ContainsFunc(faults, func(f history.Fault) bool { return f.Kind == kind }) {
			t.Fatalf("no %s fault in the run (%d faults)", kind, len(faults))
		}
	}
	s := out.Results.Stats
	t.Logf("verdict %s; %d faults; stats %+v", out.Results.Verdict, len(faults), s.Total)
	return out
}

// runHistory reads the history of the run in dir.
func runHistory(t *testing.T, dir string) []history.Op {
	t.Helper()
	ops, _, err := history.ReadFile(filepath.Join(dir, results.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

func TestLWWWeakQuorumIsNotLinearizable(t *testing.T) {
	out := runTest(t, func(c *harness.Config) {
		c.Cluster.Mode, c.Cluster.W, c.Cluster.R = "lww", 1, 1
		c.Cluster.ReadRepair = "off"
		c.Nemesis.Faults = []string{nemesis.Partition}
	})
	if out.Results.Verdict != checker.Invalid {
		t.Fatalf("lww N3 W1 R1 under partitions: verdict %s, want invalid", out.Results.Verdict)
	}
	if out.Results.Staleness == nil || out.Results.Staleness.Stale == 0 {
		t.Fatalf("no stale reads counted: %+v", out.Results.Staleness)
	}
	t.Logf("stale reads: %d of %d", out.Results.Staleness.Stale, out.Results.Staleness.Reads)
	if _, err := os.Stat(cluster.DataDir(out.Dir)); err != nil {
		t.Errorf("an invalid run's data dirs were not kept as evidence: %v", err)
	}
}

func TestLinearizableModeSurvivesFaults(t *testing.T) {
	for _, overlap := range []bool{false, true} {
		t.Run(fmt.Sprintf("overlap=%v", overlap), func(t *testing.T) {
			out := runTest(t, func(c *harness.Config) {
				c.Cluster.Mode = "linearizable"
				c.Nemesis.Faults = []string{nemesis.Partition, nemesis.Kill, nemesis.Pause}
				c.Nemesis.Overlap = overlap
			})
			if out.Results.Verdict != checker.Valid {
				t.Fatalf("linearizable N3 W2 R2 under partitions, kills, pauses: verdict %s, want valid (%+v)",
					out.Results.Verdict, out.Results.Linearizable)
			}
			if ok := out.Results.Availability.Total.OK; ok < 1000 {
				t.Fatalf("only %d ok operations: the test did not exercise the cluster", ok)
			}
			if _, err := os.Stat(cluster.DataDir(out.Dir)); !os.IsNotExist(err) {
				t.Errorf("a valid run's data dirs are left (%v); only --keep-data keeps them", err)
			}
		})
	}
}

func TestLWWSetLosesConcurrentAddsUnderClockSkew(t *testing.T) {
	out := runTest(t, func(c *harness.Config) {
		c.Cluster.Mode = "lww"
		c.Workload.Name = "set"
		c.Workload.Keys = 3
		c.Nemesis.Faults = []string{nemesis.Clock}
		c.Recovery = 2 * time.Second
	})
	set := out.Results.Set
	if set == nil || set.Lost == 0 || out.Results.Verdict != checker.Invalid {
		t.Fatalf("lww set under clock skew: verdict %s, set %+v; want lost adds", out.Results.Verdict, set)
	}
	t.Logf("lost %d of %d acknowledged adds", set.Lost, set.Acknowledged)
}

func TestVClockSetLosesNothing(t *testing.T) {
	out := runTest(t, func(c *harness.Config) {
		c.Cluster.Mode = "vclock"
		c.Workload.Name = "set"
		c.Nemesis.Faults = []string{nemesis.Partition, nemesis.Kill}
	})
	set := out.Results.Set
	if set == nil || out.Results.Verdict != checker.Valid || set.Lost != 0 {
		t.Fatalf("vclock set under partitions and kills: verdict %s, set %+v; want nothing lost", out.Results.Verdict, set)
	}
	if set.Acknowledged < 500 {
		t.Fatalf("only %d acknowledged adds: the test did not exercise the cluster", set.Acknowledged)
	}
}

// TestTLSCluster: a cluster with mutual TLS on every port and encrypted
// gossip serves the register workload under partitions and kills, and
// leaves no key material behind.
func TestTLSCluster(t *testing.T) {
	out := runTest(t, func(c *harness.Config) {
		c.TLS = true
		c.Cluster.Mode = "linearizable"
		c.Cluster.Nodes = 3
		c.Workload.TimeLimit = 12 * time.Second
		c.Nemesis.Faults = []string{nemesis.Partition, nemesis.Kill}
	})
	if out.Results.Verdict != checker.Valid {
		t.Fatalf("linearizable over mutual TLS: verdict %s, want valid (%+v)", out.Results.Verdict, out.Results.Linearizable)
	}
	if ok := out.Results.Availability.Total.OK; ok < 300 {
		t.Fatalf("only %d ok operations over TLS: the cluster did not serve", ok)
	}
	logs, err := filepath.Glob(filepath.Join(out.Dir, "nodes", "*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no node logs (%v)", err)
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"tls":true`) {
		t.Errorf("%s does not say the node served TLS", logs[0])
	}
	if _, err := os.Stat(filepath.Join(cluster.DataDir(out.Dir), "secrets")); !os.IsNotExist(err) {
		t.Errorf("the run's key material is left behind (%v)", err)
	}
}

// TestLWWSingleWriterKeepsOrder: with one writer per key and no clock
// fault, lww promises that no read returns a value older than a write
// completed before it began, through partitions and kills. A timestamp too
// coarse or a bad tie-break would break that promise here.
func TestLWWSingleWriterKeepsOrder(t *testing.T) {
	out := runTest(t, func(c *harness.Config) {
		c.Cluster.Mode = "lww"
		c.Workload.WritersPerKey = 1
		c.Workload.TimeLimit = 20 * time.Second
		c.Nemesis.Faults = []string{nemesis.Partition, nemesis.Kill}
	})
	l := out.Results.Linearizable
	if l == nil || l.Model != history.ModelSingleWriter {
		t.Fatalf("register results %+v: want the single-writer model", l)
	}
	if out.Results.Verdict != checker.Valid {
		t.Fatalf("single-writer lww under partitions and kills: %s, anomalies %+v, witnesses %+v", out.Results.Verdict, l.Anomalies, l.Witnesses)
	}
	if s := out.Results.Stats.Total; s.OK < 1000 {
		t.Fatalf("only %d ok operations: the test did not exercise the cluster", s.OK)
	}
}
