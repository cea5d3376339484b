package local

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/launch"
)

func TestNodeInfos(t *testing.T) {
	tests := []struct {
		inNS   bool
		wantIP []string
	}{
		{true, []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}},
		{false, []string{"127.0.0.1", "127.0.0.1", "127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run("namespace="+strconv.FormatBool(tt.inNS), func(t *testing.T) {
			infos, err := nodeInfos("/run", 3, tt.inNS)
			if err != nil {
				t.Fatal(err)
			}
			addrs := map[string]bool{}
			for i, n := range infos {
				id := "n" + strconv.Itoa(i+1)
				if n.ID != id || n.IP != tt.wantIP[i] || n.LogPath != "/run/nodes/"+id+".log" {
					t.Errorf("node %d = %+v", i, n)
				}
				if !strings.HasPrefix(n.Addr, n.IP+":") || (tt.inNS && n.Addr != n.IP+":7000") {
					t.Errorf("node %s address %s", id, n.Addr)
				}
				addrs[n.Addr] = true
			}
			if len(addrs) != 3 {
				t.Errorf("addresses are not distinct: %v", infos)
			}
		})
	}
}

// TestClusterFake exercises process management against the test binary acting
// as kvnode, inside the namespace and (forced) outside it.
func TestClusterFake(t *testing.T) {
	tests := []struct {
		name      string
		namespace bool
	}{
		{"namespace", true},
		{"no namespace", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.namespace {
				requireNamespace(t)
			} else {
				t.Setenv(envNetNS, "") // what a harness that did not Reexec sees
				t.Setenv(envNoNetNS, "testing the fallback")
			}
			t.Setenv(envFakeKVNode, "1")
			c, dir := startFake(t, nil)

			netErr := c.NetworkError()
			if tt.namespace != (netErr == nil) {
				t.Fatalf("NetworkError() = %v", netErr)
			}
			if !tt.namespace {
				want := "network faults need a private network namespace: testing the fallback"
				if netErr.Error() != want {
					t.Errorf("NetworkError() = %q, want %q", netErr, want)
				}
				if err := c.Partition(t.Context(), cluster.Grudge{"n1": {"n2"}}); err != netErr {
					t.Errorf("Partition without namespace: %v, want NetworkError", err)
				}
			} else {
				if err := c.Partition(t.Context(), cluster.Grudge{"n1": {"n9"}}); err == nil {
					t.Error("Partition with an unknown node: no error")
				}
				if err := c.Loss(t.Context(), []string{"n1", "n2"}, 0.1); err != nil {
					t.Error(err)
				}
				if err := c.Partition(t.Context(), cluster.Grudge{"n1": {"n2"}, "n2": {"n1"}}); err != nil {
					t.Error(err)
				}
			}
			exerciseCluster(t, c)
			// Restarts must reuse the data dir.
			for id, want := range map[string]int{"n1": 2, "n2": 1, "n3": 3} {
				starts, err := os.ReadFile(filepath.Join(dir, "data", id, "starts"))
				if got := bytes.Count(starts, []byte("\n")); err != nil || got != want {
					t.Errorf("%s started %d times in its data dir (%v), want %d", id, got, err, want)
				}
			}
			closeAndCheck(t, c, dir)
		})
	}
}

func TestClusterStartFailure(t *testing.T) {
	t.Setenv(envFakeKVNode, "1")
	dir := t.TempDir()
	_, err := Start(t.Context(), cluster.Config{
		Nodes: 3, Dir: dir, KVNodeBin: os.Args[0], ExtraArgs: []string{"--fail-on", "n2"},
	}, nil)
	if err == nil {
		t.Fatal("Start succeeded with a failing node")
	}
	for _, want := range []string{"n2 exited before it became healthy", "failing on purpose"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Start error does not mention %q:\n%v", want, err)
		}
	}
	if kids := childPIDs(t); len(kids) > 0 {
		t.Errorf("child processes left after a failed Start: %v", kids)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("data dir left after a failed Start: %v", err)
	}
	if InNamespace() && hasTable(t) {
		t.Errorf("nftables table left after a failed Start")
	}
}

func TestStartConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  cluster.Config
	}{
		{"no nodes", cluster.Config{Dir: t.TempDir(), KVNodeBin: os.Args[0]}},
		{"too many nodes", cluster.Config{Nodes: 1000, Dir: t.TempDir(), KVNodeBin: os.Args[0]}},
		{"no dir", cluster.Config{Nodes: 1, KVNodeBin: os.Args[0]}},
		{"missing binary", cluster.Config{Nodes: 1, Dir: t.TempDir(), KVNodeBin: "/nonexistent/kvnode"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := Start(t.Context(), tt.cfg, nil); err == nil {
				c.Close(t.Context())
				t.Error("no error")
			}
		})
	}
}

func TestClusterStopUnresponsive(t *testing.T) {
	t.Setenv(envFakeKVNode, "1")
	c, dir := startFake(t, []string{"--ignore-sigterm", "yes"})
	c.stopGrace = 300 * time.Millisecond
	begin := time.Now()
	if err := c.Stop(t.Context(), "n1"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d < c.stopGrace || d > 5*time.Second {
		t.Errorf("Stop of a node that ignores SIGTERM took %v, want about %v", d, c.stopGrace)
	}
	if nodeOf(t, c, "n1").proc.running() {
		t.Fatal("n1 still running")
	}
	// A done context must make Close kill at once rather than wait.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.stopGrace = time.Hour
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closeAndCheck(t, c, dir)
}

// TestClusterKVNode runs the real kvnode.
func TestClusterKVNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	bin, err := launch.KVNodeBinary(ctx, "", false)
	if err != nil {
		t.Skipf("kvnode does not build yet (go build ./cmd/kvnode failed), skipping: %v", err)
	}
	dir := t.TempDir()
	c, err := Start(ctx, cluster.Config{
		Nodes: 3, N: 3, W: 2, R: 2, Mode: "lww", Dir: dir, KVNodeBin: bin,
		RequestTimeout: time.Second,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	exerciseCluster(t, c)
	closeAndCheck(t, c, dir)
}

func startFake(t *testing.T, extra []string) (*Cluster, string) {
	t.Helper()
	dir := t.TempDir()
	c, err := Start(t.Context(), cluster.Config{Nodes: 3, Dir: dir, KVNodeBin: os.Args[0], ExtraArgs: extra}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c, dir
}

// exerciseCluster kills, restarts, pauses, resumes and stops nodes of a
// running three-node cluster, checking health and process state throughout.
func exerciseCluster(t *testing.T, c *Cluster) {
	t.Helper()
	ctx := t.Context()
	addr := map[string]string{}
	for _, n := range c.Nodes() {
		addr[n.ID] = n.Addr
	}
	healthy := func(id string) error { return launch.CheckHealth(ctx, addr[id], nil, 500*time.Millisecond) }
	mustHealthy := func(id string) {
		t.Helper()
		if err := healthy(id); err != nil {
			t.Fatalf("%s not healthy: %v", id, err)
		}
	}
	mustDown := func(id string) {
		t.Helper()
		if nodeOf(t, c, id).proc.running() {
			t.Fatalf("%s still running", id)
		}
		if healthy(id) == nil {
			t.Fatalf("%s answers health checks", id)
		}
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		mustHealthy(id)
	}

	must("kill n3", c.Kill(ctx, "n3"))
	mustDown("n3")
	must("kill n3 again", c.Kill(ctx, "n3"))
	must("start n3", c.Start(ctx, "n3"))
	mustHealthy("n3")

	must("pause n2", c.Pause(ctx, "n2"))
	if state := procState(t, nodeOf(t, c, "n2").proc.cmd.Process.Pid); state != 'T' {
		t.Errorf("paused n2 is in state %c, want T", state)
	}
	if healthy("n2") == nil {
		t.Error("paused n2 answers health checks")
	}
	if err := c.Start(ctx, "n2"); err == nil {
		t.Error("Start of a paused node: no error")
	}
	must("resume n2", c.Resume(ctx, "n2"))
	mustHealthy("n2")
	must("start running n2", c.Start(ctx, "n2"))

	// A paused node must stop promptly (SIGTERM, then SIGCONT), not after
	// the grace period.
	must("pause n1", c.Pause(ctx, "n1"))
	begin := time.Now()
	must("stop paused n1", c.Stop(ctx, "n1"))
	if d := time.Since(begin); d > c.stopGrace/2 {
		t.Errorf("stopping paused n1 took %v", d)
	}
	mustDown("n1")
	if err := c.Pause(ctx, "n1"); err == nil {
		t.Error("Pause of a stopped node: no error")
	}
	must("resume stopped n1", c.Resume(ctx, "n1"))
	must("start n1", c.Start(ctx, "n1"))
	mustHealthy("n1")

	must("pause n3", c.Pause(ctx, "n3"))
	must("kill paused n3", c.Kill(ctx, "n3"))
	mustDown("n3")
	must("restart n3", c.Start(ctx, "n3"))
	mustHealthy("n3")

	for name, op := range map[string]func(context.Context, string) error{
		"Kill": c.Kill, "Stop": c.Stop, "Start": c.Start, "Pause": c.Pause, "Resume": c.Resume,
	} {
		if err := op(ctx, "n9"); err == nil {
			t.Errorf("%s of an unknown node: no error", name)
		}
	}
	// Leave n2 paused: Close must cope.
	must("pause n2 for Close", c.Pause(ctx, "n2"))
}

// closeAndCheck closes c and checks that nothing it started is left.
func closeAndCheck(t *testing.T, c *Cluster, dir string) {
	t.Helper()
	ctx := t.Context()
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if kids := childPIDs(t); len(kids) > 0 {
		t.Errorf("child processes left after Close: %v", kids)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("data dir left after Close: %v", err)
	}
	if c.net != nil && hasTable(t) {
		t.Error("nftables table left after Close")
	}
	for _, n := range c.Nodes() {
		log, err := os.ReadFile(n.LogPath)
		if err != nil || !bytes.Contains(log, []byte("starting "+n.ID)) {
			t.Errorf("log of %s: %v\n%s", n.ID, err, log)
		}
	}
	if err := c.Start(ctx, "n1"); err == nil {
		t.Error("Start after Close: no error")
	}
}

// childPIDs lists the live child processes of the test process.
func childPIDs(t *testing.T) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var kids []int
	for _, p := range stats {
		stat, err := os.ReadFile(p)
		if err != nil {
			continue // exited meanwhile
		}
		// Fields after the parenthesized name: state, ppid, …
		i := bytes.LastIndexByte(stat, ')')
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(os.Getpid()) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			kids = append(kids, pid)
		}
	}
	return kids
}

func procState(t *testing.T, pid int) byte {
	t.Helper()
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	return stat[bytes.LastIndexByte(stat, ')')+2]
}
