package docker_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/cluster/docker"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/nemesis"
	"github.com/quorumlab/quorumlab/results"
)

// dockerObjects is what the engine holds: container, network and image
// names.
type dockerObjects struct{ containers, networks, images []string }

func listObjects(t *testing.T) dockerObjects {
	t.Helper()
	ctx := t.Context()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	var o dockerObjects
	ctrs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ctrs.Items {
		o.containers = append(o.containers, c.Names...)
	}
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets.Items {
		o.networks = append(o.networks, n.Name)
	}
	imgs, err := cli.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range imgs.Items {
		o.images = append(o.images, append(img.RepoTags, img.ID)...)
	}
	return o
}

func added(before, after []string) []string {
	var out []string
	for _, s := range after {
		if !slices.Contains(before, s) {
			out = append(out, s)
		}
	}
	return out
}

// runDocker runs one test on a 5-node docker cluster and checks that it
// leaves no container or network, and no image but the node image.
func runDocker(t *testing.T, mutate func(*harness.Config)) dockerOutcome {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end run; skipped with -short")
	}
	if err := docker.Ping(t.Context()); err != nil {
		if !errors.Is(err, docker.ErrNoDaemon) || os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("skipping: %v", err)
	}
	before := listObjects(t)

	cfg := harness.DefaultConfig()
	cfg.Backend = "docker"
	cfg.Store = t.TempDir()
	cfg.Cluster.Nodes = 5
	cfg.Cluster.KVNodeBin = os.Getenv("QUORUMLAB_KVNODE_BIN")
	cfg.Workload.TimeLimit = 30 * time.Second
	// Short phases (0.5–1.5 s): a round of every requested kind fits in the
	// run with room to spare on a loaded 2-core machine.
	cfg.Nemesis.Interval = time.Second
	mutate(&cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	begin := time.Now()
	out, err := harness.Run(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatalf("run failed: %v", err)
	}

	after := listObjects(t)
	if c := added(before.containers, after.containers); len(c) > 0 {
		t.Errorf("containers left behind: %v", c)
	}
	if n := added(before.networks, after.networks); len(n) > 0 {
		t.Errorf("networks left behind: %v", n)
	}
	nodeImage := "quorumlab-kvnode:"
	if cfg.Cluster.Etcd() {
		nodeImage = "quorumlab-etcd:"
	}
	for _, img := range added(before.images, after.images) {
		if !strings.HasPrefix(img, nodeImage) && !strings.HasPrefix(img, "sha256:") {
			t.Errorf("image left behind: %s", img)
		}
	}
	if n := len(added(before.images, after.images)); n > 2 {
		t.Errorf("%d new images (tags and ids), want at most the node image", n)
	}

	ops, _, err := history.ReadFile(filepath.Join(out.Dir, results.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, f := range history.Faults(ops) {
		kinds = append(kinds, f.Kind)
	}
	for _, kind := range cfg.Nemesis.Faults {
		if !slices.Contains(kinds, kind) {
			t.Errorf("no %s fault in the run (faults: %v)", kind, kinds)
		}
	}
	for i := 1; i <= cfg.Cluster.Nodes && !cfg.Cluster.Etcd(); i++ {
		log, err := os.ReadFile(filepath.Join(out.Dir, "nodes", "n"+strconv.Itoa(i)+".log"))
		if err != nil || !strings.Contains(string(log), `"msg":"serving"`) {
			t.Errorf("node n%d's log lacks kvnode's output (%v)", i, err)
		}
	}
	t.Logf("verdict %s in %v (cluster up in %v); faults %v; stats %+v",
		out.Results.Verdict, time.Since(begin).Round(time.Millisecond), out.ClusterStart.Round(time.Millisecond),
		kinds, out.Results.Stats.Total)
	return dockerOutcome{out, kinds}
}

// dockerOutcome is a run's outcome and the kinds of the faults it injected.
type dockerOutcome struct {
	harness.Outcome
	Kinds []string
}

func TestDockerLWWWeakQuorumIsNotLinearizable(t *testing.T) {
	out := runDocker(t, func(c *harness.Config) {
		c.Cluster.Mode, c.Cluster.N, c.Cluster.W, c.Cluster.R = "lww", 3, 1, 1
		c.Cluster.ReadRepair = "off"
		c.Nemesis.Faults = []string{nemesis.Partition}
	})
	if out.Results.Verdict != checker.Invalid {
		t.Fatalf("lww N3 W1 R1 under partitions: verdict %s, want invalid", out.Results.Verdict)
	}
}

func TestDockerLinearizableModeSurvivesFaults(t *testing.T) {
	out := runDocker(t, func(c *harness.Config) {
		c.Cluster.Mode, c.Cluster.N, c.Cluster.W, c.Cluster.R = "linearizable", 3, 2, 2
		c.Nemesis.Faults = []string{nemesis.Partition, nemesis.Kill, nemesis.Pause}
	})
	if out.Results.Verdict != checker.Valid {
		t.Fatalf("linearizable N3 W2 R2 under partitions, kills, pauses: verdict %s, want valid (%+v)",
			out.Results.Verdict, out.Results.Linearizable)
	}
	if ok := out.Results.Availability.Total.OK; ok < 1000 {
		t.Fatalf("only %d ok operations: the test did not exercise the cluster", ok)
	}
}

func TestDockerVClockSetSurvivesMembershipChanges(t *testing.T) {
	out := runDocker(t, func(c *harness.Config) {
		c.Cluster.Mode = "vclock"
		c.Workload.Name = "set"
		c.Workload.TimeLimit = 40 * time.Second
		c.Nemesis.Faults = []string{nemesis.Membership, nemesis.Partition}
	})
	set := out.Results.Set
	if set == nil || out.Results.Verdict != checker.Valid || set.Lost != 0 {
		t.Fatalf("vclock set under ring changes and partitions: verdict %s, set %+v; want nothing lost", out.Results.Verdict, set)
	}
	if set.Acknowledged < 200 {
		t.Fatalf("only %d acknowledged adds: the test did not exercise the cluster", set.Acknowledged)
	}
	ops, _, err := history.ReadFile(filepath.Join(out.Dir, results.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	changes, err := nemesis.RingChanges(history.Faults(ops))
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, c := range changes {
		actions[c.Action]++
		t.Logf("membership change: %s %s", c.Action, c.Node)
	}
	if actions[nemesis.AddNode] == 0 || actions[nemesis.Decommission] == 0 {
		t.Fatalf("ring changes in the history: %v; want a node added and one decommissioned", actions)
	}
	// The added node's container ran and logged under the run like the others.
	if log, err := os.ReadFile(filepath.Join(out.Dir, "nodes", "n6.log")); err != nil || !strings.Contains(string(log), `"msg":"serving"`) {
		t.Errorf("added node n6's log lacks kvnode's output (%v)", err)
	}
}
