package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quorumlab/quorumlab/kvnode"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

func startNode(t *testing.T, mode version.Mode) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := kvnode.DefaultConfig()
	cfg.ID, cfg.Listen, cfg.DataDir = "n1", addr, t.TempDir()
	cfg.PeerListen = "127.0.0.1:0" // one node: no peer dials it
	cfg.Peers = []kvnode.Peer{{ID: "n1", Addr: addr}}
	cfg.N, cfg.W, cfg.R, cfg.Mode = 1, 1, 1, mode
	cfg.AdminToken = "tok"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := kvnode.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return addr
}

func kv(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestClientCommands(t *testing.T) {
	addr := startNode(t, version.VClock)
	deadAddr := func() string {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		defer l.Close()
		return l.Addr().String()
	}()
	if code, _, e := kv("put", "--addr", addr, "k", "v1"); code != exitOK {
		t.Fatalf("put: exit %d: %s", code, e)
	}
	code, out, _ := kv("get", "--addr", addr, "k")
	if code != exitOK || out != "v1\n" {
		t.Fatalf("get: exit %d, %q", code, out)
	}
	// A second blind write makes a sibling; --json returns both and a
	// context that resolves them.
	kv("put", "--addr", addr, "k", "v2")
	code, out, _ = kv("get", "--addr", addr, "--json", "k")
	var res struct {
		Values  []string `json:"values"`
		Context string   `json:"context"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &res) != nil || len(res.Values) != 2 || res.Context == "" {
		t.Fatalf("get --json: exit %d, %q", code, out)
	}
	if code, _, e := kv("put", "--addr", addr, "--context", res.Context, "k", "v3"); code != exitOK {
		t.Fatalf("put with context: %d %s", code, e)
	}
	if _, out, _ = kv("get", "--addr", addr, "k"); out != "v3\n" {
		t.Fatalf("after resolving put: %q", out)
	}
	if code, _, _ := kv("delete", "--addr", addr, "k"); code != exitOK {
		t.Fatalf("delete: exit %d", code)
	}
	if code, out, _ = kv("status", "--addr", addr, "--admin-token", "tok"); code != exitOK || !strings.Contains(out, "n1") {
		t.Fatalf("status: exit %d, %q", code, out)
	}

	errs := []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{"oversize key", []string{"put", "--addr", addr, strings.Repeat("k", 2000), "v"}, exitInvalid, "limit is 1024"},
		{"W above N", []string{"put", "--addr", addr, "--w", "2", "k", "v"}, exitInvalid, "W=2"},
		{"bad context", []string{"put", "--addr", addr, "--context", "!!", "k", "v"}, exitInvalid, "base64"},
		{"garbage context", []string{"put", "--addr", addr, "--context", "AAAA", "k", "v"}, exitInvalid, "malformed context"},
		{"missing args", []string{"put", "--addr", addr, "k"}, exitInvalid, "accepts 2 arg"},
		{"bad flag", []string{"get", "--addr", addr, "--r", "x", "k"}, exitInvalid, "invalid argument"},
		{"negative R", []string{"get", "--addr", addr, "--r", "-1", "k"}, exitInvalid, "R=-1"},
		{"negative W", []string{"delete", "--addr", addr, "--w", "-1", "k"}, exitInvalid, "W=-1"},
		{"negative timeout", []string{"get", "--addr", addr, "--timeout", "-1s", "k"}, exitInvalid, "must be positive"},
		{"no node", []string{"put", "--addr", deadAddr, "k", "v"}, exitUnavailable, "unavailable"},
		{"wrong token", []string{"status", "--addr", addr, "--admin-token", "nope"}, exitOther, "token"},
		{"serve without id", []string{"serve", "--data-dir", t.TempDir()}, exitInvalid, "--id"},
		{"serve bad mode", []string{"serve", "--id", "n1", "--data-dir", t.TempDir(), "--mode", "eventual"}, exitInvalid, "unknown mode"},
		{"serve no overlap", []string{"serve", "--id", "n1", "--data-dir", t.TempDir(), "--mode", "linearizable",
			"--peers", "n1=127.0.0.1:1,n2=127.0.0.1:2,n3=127.0.0.1:3", "--w", "1", "--r", "1"}, exitInvalid, "W + R > N"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := kv(tt.args...)
			if code != tt.want || !strings.Contains(stderr, tt.msg) {
				t.Fatalf("exit %d (want %d), stderr %q (want it to mention %q)", code, tt.want, stderr, tt.msg)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Fatalf("error is not one line: %q", stderr)
			}
		})
	}
}

func TestAdminToken(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "token")
	os.WriteFile(good, []byte("s3cret\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	t.Setenv("KVNODE_ADMIN_TOKEN", "from-env")
	tests := []struct {
		flag, file, want string
		err              bool
	}{
		{"", "", "from-env", false},
		{"flag", "", "flag", false},
		{"", good, "s3cret", false},
		{"flag", good, "", true},
		{"", empty, "", true},
		{"", filepath.Join(dir, "missing"), "", true},
	}
	for _, tt := range tests {
		got, err := adminToken(tt.flag, tt.file)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("adminToken(%q, %q) = %q, %v; want %q, error %v", tt.flag, tt.file, got, err, tt.want, tt.err)
		}
	}
}
