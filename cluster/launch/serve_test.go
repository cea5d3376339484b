package launch

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/cluster"
)

func TestServeArgs(t *testing.T) {
	node := cluster.Node{ID: "n2", Addr: "127.0.0.12:7000"}
	base := []string{"serve", "--id", "n2", "--listen", "127.0.0.12:7000", "--data-dir", "/d/n2", "--peers", "P"}
	with := func(args ...string) []string { return append(slices.Clone(base), args...) }
	tests := []struct {
		name string
		cfg  cluster.Config
		want []string
	}{
		{"zero values leave kvnode defaults, but fsync", cluster.Config{}, with("--fsync=false", "--metrics-listen", "127.0.0.12:9464")},
		{
			"everything",
			cluster.Config{
				N: 3, W: 2, R: 1, Mode: "lww", VNodes: 128, Fsync: true, ReadRepair: "async",
				RequestTimeout: 1500 * time.Millisecond, AdminToken: "T", Sloppy: true,
				ExtraArgs: []string{"--x", "y"},
			},
			with("--n", "3", "--w", "2", "--r", "1", "--mode", "lww", "--vnodes", "128", "--fsync=true",
				"--read-repair", "async", "--request-timeout", "1.5s", "--sloppy",
				"--metrics-listen", "127.0.0.12:9464", "--x", "y"),
		},
		{
			"only some quorum settings",
			cluster.Config{W: 3, Fsync: true},
			with("--w", "3", "--fsync=true", "--metrics-listen", "127.0.0.12:9464"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ServeArgs(tt.cfg, node, "/d/n2", "P"); !slices.Equal(got, tt.want) {
				t.Errorf("ServeArgs:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestLogTail(t *testing.T) {
	var long bytes.Buffer
	for i := range 1000 {
		long.WriteString("line " + strconv.Itoa(i) + "\n")
	}
	tests := []struct {
		name, content string
		wantFirst     string
		wantLines     int
	}{
		{"short", "a\nb\n", "  a", 2},
		{"long", long.String(), "  line 980", 20},
		{"empty", "", "  ", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "log")
			if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(LogTail(p), "\n")
			if len(lines) != tt.wantLines || lines[0] != tt.wantFirst {
				t.Errorf("LogTail: %d lines starting %q, want %d starting %q", len(lines), lines[0], tt.wantLines, tt.wantFirst)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	args := []string{"serve", "--admin-token", "secret", "--id", "n1"}
	got := Redacted(args)
	if want := []string{"serve", "--admin-token", "<redacted>", "--id", "n1"}; !slices.Equal(got, want) {
		t.Errorf("Redacted = %q, want %q", got, want)
	}
	if args[2] != "secret" {
		t.Error("Redacted changed its argument")
	}
}

func TestNodesDir(t *testing.T) {
	tmp := t.TempDir()
	tests := []struct {
		name    string
		cfg     cluster.Config
		wantErr string
	}{
		{"ok", cluster.Config{Nodes: 3, Dir: tmp + "/run"}, ""},
		{"no nodes", cluster.Config{Nodes: 0, Dir: tmp}, "0 nodes: need 1 to 5"},
		{"too many", cluster.Config{Nodes: 6, Dir: tmp}, "6 nodes: need 1 to 5"},
		{"no dir", cluster.Config{Nodes: 3}, "no run directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, err := NodesDir(tt.cfg, 5)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(filepath.Join(dir, "nodes")); err != nil || !fi.IsDir() || !filepath.IsAbs(dir) {
				t.Fatalf("run dir %q: nodes/ missing or path not absolute (%v)", dir, err)
			}
		})
	}
}
