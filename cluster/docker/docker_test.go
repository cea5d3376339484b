package docker

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/quorumlab/quorumlab/cluster"
)

// nodeInfos lays out count nodes as Start and AddNode do.
func nodeInfos(dir string, subnet netip.Prefix, count int) ([]cluster.Node, error) {
	infos := make([]cluster.Node, count)
	for i := range infos {
		var err error
		if infos[i], err = nodeInfo(dir, subnet, i); err != nil {
			return nil, err
		}
	}
	return infos, nil
}

func TestNodeInfos(t *testing.T) {
	tests := []struct {
		subnet  string
		count   int
		wantIPs []string
		wantErr bool
	}{
		{"172.18.0.0/16", 3, []string{"172.18.0.11", "172.18.0.12", "172.18.0.13"}, false},
		{"192.168.32.0/20", 1, []string{"192.168.32.11"}, false},
		{"10.1.2.0/24", maxNodes, nil, false},
		{"10.1.2.0/24", maxNodes + 1, nil, true},
		{"10.1.2.0/25", 3, nil, true},
		{"fd00::/64", 3, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.subnet, func(t *testing.T) {
			infos, err := nodeInfos("/run", netip.MustParsePrefix(tt.subnet), tt.count)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error: %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if len(infos) != tt.count {
				t.Fatalf("%d nodes, want %d", len(infos), tt.count)
			}
			prefix := netip.MustParsePrefix(tt.subnet)
			seen := map[string]bool{}
			for i, n := range infos {
				if tt.wantIPs != nil && n.IP != tt.wantIPs[i] {
					t.Errorf("node %d IP %s, want %s", i, n.IP, tt.wantIPs[i])
				}
				if !prefix.Contains(netip.MustParseAddr(n.IP)) || seen[n.IP] {
					t.Errorf("node %s IP %s: outside %s or repeated", n.ID, n.IP, prefix)
				}
				seen[n.IP] = true
				if n.Addr != n.IP+":7000" || n.LogPath != "/run/nodes/"+n.ID+".log" {
					t.Errorf("node %+v", n)
				}
			}
			if last := infos[len(infos)-1].IP; tt.count == maxNodes && !strings.HasSuffix(last, ".254") {
				t.Errorf("last of %d nodes at %s", maxNodes, last)
			}
		})
	}
}

// testCluster is a Cluster with nodes but no containers, for the rule logic.
func testCluster(ids ...string) *Cluster {
	c := &Cluster{}
	for i, id := range ids {
		ip := netip.AddrFrom4([4]byte{172, 18, 0, byte(11 + i)})
		if err := c.nodes.Add(&node{info: cluster.Node{ID: id, IP: ip.String()}, ip: ip}); err != nil {
			panic(err)
		}
	}
	return c
}

func TestNetfaultArgs(t *testing.T) {
	tests := []struct {
		name   string
		grudge cluster.Grudge
		lossID []string
		rate   float64
		want   map[string]string // node → args; missing: heal
	}{
		{"healed", nil, nil, 0, nil},
		{
			"isolate n1",
			cluster.Grudge{"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}},
			nil, 0,
			map[string]string{
				"n1": "drop --from 172.18.0.12,172.18.0.13",
				"n2": "drop --from 172.18.0.11",
				"n3": "drop --from 172.18.0.11",
			},
		},
		{
			"asymmetric, with itself and repeats ignored",
			cluster.Grudge{"n2": {"n1", "n2", "n1"}},
			nil, 0,
			map[string]string{"n2": "drop --from 172.18.0.11"},
		},
		{
			"loss among some nodes",
			nil, []string{"n1", "n3"}, 0.3,
			map[string]string{
				"n1": "drop --loss-from 172.18.0.13 --loss 0.3",
				"n3": "drop --loss-from 172.18.0.11 --loss 0.3",
			},
		},
		{"zero loss is no rule", nil, []string{"n1", "n2"}, 0, nil},
		{
			"partition and loss",
			cluster.Grudge{"n3": {"n1"}},
			[]string{"n1", "n2", "n3"}, 1,
			map[string]string{
				"n1": "drop --loss-from 172.18.0.12,172.18.0.13 --loss 1",
				"n2": "drop --loss-from 172.18.0.11,172.18.0.13 --loss 1",
				"n3": "drop --from 172.18.0.11 --loss-from 172.18.0.11,172.18.0.12 --loss 1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCluster("n1", "n2", "n3")
			c.faults.grudge, c.faults.lossIDs, c.faults.lossRate = tt.grudge, tt.lossID, tt.rate
			for _, id := range []string{"n1", "n2", "n3"} {
				want, ok := tt.want[id]
				if !ok {
					want = "heal"
				}
				if got := strings.Join(c.netfaultArgs(id), " "); got != want {
					t.Errorf("%s: netfault %s, want %s", id, got, want)
				}
			}
		})
	}
}

func TestFaultArgumentsChecked(t *testing.T) {
	c := testCluster("n1", "n2")
	ctx := t.Context()
	for name, apply := range map[string]func() error{
		"unknown grudge holder": func() error { return c.Partition(ctx, cluster.Grudge{"n9": {"n1"}}) },
		"unknown source":        func() error { return c.Partition(ctx, cluster.Grudge{"n1": {"n9"}}) },
		"unknown loss node":     func() error { return c.Loss(ctx, []string{"n1", "n9"}, 0.1) },
		"loss above 1":          func() error { return c.Loss(ctx, []string{"n1", "n2"}, 1.5) },
	} {
		if err := apply(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if c.faults.grudge != nil || c.faults.lossIDs != nil {
		t.Errorf("refused faults changed the state: grudge %v, loss %v", c.faults.grudge, c.faults.lossIDs)
	}
}

func TestBuildContext(t *testing.T) {
	binary := []byte("\x7fELF pretend")
	img := image{repo: "quorumlab-test", entrypoint: "/kvnode", files: []imageFile{{"/kvnode", 0o755, binary}, {"/lib64/ld.so", 0o755, []byte("ld")}}}
	archive, err := img.buildContext()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	modes := map[string]int64{}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		files[hdr.Name], modes[hdr.Name] = data, hdr.Mode
	}
	if !bytes.Equal(files["kvnode"], binary) || modes["kvnode"]&0o111 == 0 {
		t.Errorf("kvnode in the context: %q mode %o", files["kvnode"], modes["kvnode"])
	}
	df := string(files["Dockerfile"])
	if !strings.HasPrefix(df, "FROM scratch\n") || strings.Count(df, "FROM") != 1 {
		t.Errorf("Dockerfile must build FROM scratch alone (nothing to pull):\n%s", df)
	}
	if !bytes.Equal(files["lib64/ld.so"], []byte("ld")) || !strings.Contains(df, "COPY lib64/ld.so /lib64/ld.so\n") {
		t.Errorf("a nested file is not copied to its path:\n%s", df)
	}
}

func TestImageTag(t *testing.T) {
	imageTag := func(b []byte) string {
		return image{repo: "r", entrypoint: "/kvnode", files: []imageFile{{"/kvnode", 0o755, b}}}.tag()
	}
	a, b := imageTag([]byte("one binary")), imageTag([]byte("another binary"))
	if a == b || a != imageTag([]byte("one binary")) {
		t.Errorf("tags %s, %s: want equal for equal content only", a, b)
	}
	if len(a) != 16 || strings.ToLower(a) != a {
		t.Errorf("tag %q is not a valid lower-case 16-digit tag", a)
	}
}

func TestNoDaemonIsOneLine(t *testing.T) {
	err := noDaemon(errors.New("Cannot connect to the Docker daemon\nat unix:///var/run/docker.sock.\n  Is the docker daemon running?"))
	if !errors.Is(err, ErrNoDaemon) {
		t.Error("does not wrap ErrNoDaemon")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "--backend local") {
		t.Errorf("message %q: want one line suggesting --backend local", msg)
	}
}

func TestLiveHarness(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"this process", map[string]string{labelPID: pidString(), labelHost: hostname()}, true},
		{"no such process", map[string]string{labelPID: "999999999", labelHost: hostname()}, false},
		{"another host", map[string]string{labelPID: pidString(), labelHost: "elsewhere.invalid"}, false},
		{"no labels", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := liveHarness(tt.labels); got != tt.want {
				t.Errorf("liveHarness = %v, want %v", got, tt.want)
			}
		})
	}
}

// nodeOf is c's node id, which must exist.
func nodeOf(t *testing.T, c *Cluster, id string) *node {
	t.Helper()
	n, err := c.nodes.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
