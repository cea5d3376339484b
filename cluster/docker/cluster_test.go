package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/launch"
	kvclient "github.com/quorumlab/quorumlab/kvnode/client"
)

// envKVNodeBin names a static kvnode binary for the tests to use instead of
// building one from this tree.
const envKVNodeBin = "QUORUMLAB_KVNODE_BIN"

// requireDocker skips a test when no Docker engine answers, except in CI,
// which has one and must prove this backend works.
func requireDocker(t *testing.T) {
	t.Helper()
	err := Ping(t.Context())
	if err == nil {
		return
	}
	if !errors.Is(err, ErrNoDaemon) || os.Getenv("CI") == "true" {
		t.Fatal(err)
	}
	t.Skipf("skipping: %v", err)
}

// TestCluster runs three real nodes through every fault and checks them
// from the outside: health, quorum writes that a partition must break, data
// that must survive a kill, and what Close leaves.
func TestCluster(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	c, err := Start(ctx, cluster.Config{
		Nodes: 3, N: 3, W: 2, R: 2, Mode: "lww", ReadRepair: "off", Fsync: true, Dir: dir,
		RequestTimeout: 500 * time.Millisecond, KVNodeBin: os.Getenv(envKVNodeBin),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	if err := c.NetworkError(); err != nil {
		t.Fatalf("network faults unavailable: %v", err)
	}

	clients := map[string]*kvclient.Client{}
	for _, n := range c.Nodes() {
		if !strings.HasSuffix(n.Addr, ":7000") || !strings.HasPrefix(n.Addr, n.IP+":") {
			t.Errorf("node %+v: want its container IP and port 7000", n)
		}
		cl, err := kvclient.Dial(n.Addr, kvclient.Options{Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		clients[n.ID] = cl
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	healthy := func(id string) error {
		return launch.CheckHealth(ctx, nodeOf(t, c, id).info.Addr, nil, 500*time.Millisecond)
	}
	// putAll writes through via with W=3: it succeeds only if via reaches
	// every replica.
	putAll := func(via, value string) error {
		err := clients[via].Put(ctx, "k", []byte(value), nil, kvclient.WithW(3))
		return err
	}
	// eventually retries a write for a while: after a heal, nodes take a
	// moment to see their peers again.
	eventually := func(what string, write func() error) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			err := write()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v", what, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	isolate := func(id string) cluster.Grudge {
		g := cluster.Grudge{}
		for _, n := range c.Nodes() {
			if n.ID != id {
				g[id] = append(g[id], n.ID)
				g[n.ID] = []string{id}
			}
		}
		return g
	}

	must("write to all replicas", putAll("n2", "v1"))

	// Partitions and loss are real drops.
	must("isolate n1", c.Partition(ctx, isolate("n1")))
	if err := putAll("n2", "v2"); err == nil {
		t.Error("W=3 write succeeded with n1 isolated")
	}
	if err := clients["n2"].Put(ctx, "k", []byte("v2"), nil, kvclient.WithW(2)); err != nil {
		t.Errorf("W=2 write between n2 and n3 while n1 is isolated: %v", err)
	}
	must("healthy n1 while isolated (the harness is not cut off)", healthy("n1"))
	must("heal", c.HealNetwork(ctx))
	eventually("write to all replicas after healing", func() error { return putAll("n1", "v3") })
	must("full loss", c.Loss(ctx, []string{"n1", "n2", "n3"}, 1))
	if err := putAll("n3", "v4"); err == nil {
		t.Error("W=3 write succeeded with 100% packet loss")
	}
	must("heal loss", c.HealNetwork(ctx))
	must("heal again", c.HealNetwork(ctx))

	// Kill and start: same container, same data, same address; a partition
	// set while it was down applies once it is up.
	eventually("write v5", func() error { return putAll("n1", "v5") })
	must("kill n3", c.Kill(ctx, "n3"))
	if healthy("n3") == nil {
		t.Fatal("killed n3 answers health checks")
	}
	must("kill n3 again", c.Kill(ctx, "n3"))
	must("isolate n3 while it is down", c.Partition(ctx, isolate("n3")))
	must("start n3", c.Start(ctx, "n3"))
	must("n3 healthy", healthy("n3"))
	if err := putAll("n3", "v6"); err == nil {
		t.Error("W=3 write through restarted n3 succeeded: it did not get its partition rules")
	}
	// Isolated, n3 can only read its own disk.
	res, err := clients["n3"].Get(ctx, "k", kvclient.WithR(1))
	must("read n3's own copy", err)
	if len(res.Values) != 1 || string(res.Values[0]) != "v5" {
		t.Errorf("n3 after kill and restart reads %q, want [v5]", res.Values)
	}
	must("heal", c.HealNetwork(ctx))
	must("start a running node", c.Start(ctx, "n3"))

	// Pause: no exec is possible, so rules wait for the resume.
	must("pause n2", c.Pause(ctx, "n2"))
	if healthy("n2") == nil {
		t.Error("paused n2 answers health checks")
	}
	if err := c.Start(ctx, "n2"); err == nil {
		t.Error("Start of a paused node: no error")
	}
	must("isolate n2 while paused", c.Partition(ctx, isolate("n2")))
	must("resume n2", c.Resume(ctx, "n2"))
	must("resume n2 again", c.Resume(ctx, "n2"))
	must("n2 healthy", healthy("n2"))
	if err := putAll("n2", "v7"); err == nil {
		t.Error("W=3 write through resumed n2 succeeded: it did not get its partition rules")
	}
	must("heal", c.HealNetwork(ctx))
	eventually("write after everything", func() error { return putAll("n2", "v8") })

	// Stop is clean; a paused node stops promptly.
	must("pause n1", c.Pause(ctx, "n1"))
	begin := time.Now()
	must("stop paused n1", c.Stop(ctx, "n1"))
	if d := time.Since(begin); d > c.stopGrace/2 {
		t.Errorf("stopping paused n1 took %v", d)
	}
	if err := c.Pause(ctx, "n1"); err == nil {
		t.Error("Pause of a stopped node: no error")
	}
	must("start n1", c.Start(ctx, "n1"))

	for name, op := range map[string]func(context.Context, string) error{
		"Kill": c.Kill, "Stop": c.Stop, "Start": c.Start, "Pause": c.Pause, "Resume": c.Resume,
	} {
		if err := op(ctx, "n9"); err == nil {
			t.Errorf("%s of an unknown node: no error", name)
		}
	}

	must("pause n3", c.Pause(ctx, "n3"))
	must("kill paused n3", c.Kill(ctx, "n3"))
	must("restart n3", c.Start(ctx, "n3"))
	must("n3 healthy", healthy("n3"))

	// Leave n2 paused: Close must cope.
	must("pause n2 for Close", c.Pause(ctx, "n2"))
	must("close", c.Close(ctx))
	must("close again", c.Close(ctx))
	if err := c.Start(ctx, "n1"); err == nil {
		t.Error("Start after Close: no error")
	}

	// Each start and exit is in the log, with the node's own output.
	log3, err := os.ReadFile(nodeOf(t, c, "n3").info.LogPath)
	must("read n3's log", err)
	if got := strings.Count(string(log3), "=== quorumlab"); got != 6 {
		t.Errorf("n3's log has %d harness lines, want 6 (three starts, three exits):\n%s", got, log3)
	}
	if !strings.Contains(string(log3), "exit code 137") || !strings.Contains(string(log3), `"msg":"serving"`) {
		t.Errorf("n3's log lacks the SIGKILL exit or kvnode's output:\n%s", log3)
	}
	assertRunRemoved(t, c.runID)
}

// assertRunRemoved checks that no container or network of a run is left.
func assertRunRemoved(t *testing.T, runID string) {
	t.Helper()
	ctx := context.Background()
	p, err := connect(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	f := make(client.Filters).Add("label", labelRun+"="+runID)
	ctrs, err := p.Client().ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	nets, err := p.Client().NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	if len(ctrs.Items) > 0 || len(nets.Items) > 0 {
		t.Errorf("run %s left %d containers and %d networks", runID, len(ctrs.Items), len(nets.Items))
	}
}

// TestBuildFailureShowsLog checks that a failed image build says why, with
// the build log's tail, and leaves no image.
func TestBuildFailureShowsLog(t *testing.T) {
	requireDocker(t)
	ctx := t.Context()
	p, err := connect(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// A context whose Dockerfile copies a file it lacks.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	df := []byte("FROM scratch\nCOPY no-such-file /x\n")
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df))}); err != nil {
		t.Fatal(err)
	}
	tw.Write(df)
	tw.Close()
	const repo, tag = "quorumlab-kvnode", "test-build-failure"
	err = buildImage(ctx, p, repo, tag, buf.Bytes())
	if err == nil {
		p.Client().ImageRemove(ctx, repo+":"+tag, client.ImageRemoveOptions{Force: true})
		t.Fatal("a build copying a missing file succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, "end of the build log") || !strings.Contains(msg, "no-such-file") {
		t.Errorf("error does not show the build log's tail:\n%s", msg)
	}
	t.Logf("the error a user sees:\n%v", err)
	found, err := p.Client().ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("reference", repo+":"+tag)})
	if err != nil {
		t.Fatal(err)
	}
	if len(found.Items) > 0 {
		t.Error("a failed build left an image")
	}
}
