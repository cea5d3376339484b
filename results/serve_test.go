package results

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
)

// testStore makes a store with one run (stale reads: invalid), a
// comparison, the latest link, and a symlink that points outside the store.
func testStore(t *testing.T) (store, runDir, cmpDir string) {
	t.Helper()
	base := t.TempDir()
	store = filepath.Join(base, "store")
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "secret.txt"), []byte("SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	runDir, err := NewRunDir(store, "register", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if err := MarkLatest(store, runDir); err != nil {
		t.Fatal(err)
	}
	test := `{"test":"register","started":"2026-01-02T03:04:05Z","cluster":{"Nodes":5,"N":3,"W":1,"R":1,"Mode":"lww"},"workload":{"Name":"register"},"nemesis":{"Faults":["partition"]}}`
	if err := os.WriteFile(filepath.Join(runDir, TestFile), []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	ops := registerHistory(true)
	var hist strings.Builder
	for _, op := range ops {
		b, _ := json.Marshal(op)
		hist.Write(append(b, '\n'))
	}
	if err := os.WriteFile(filepath.Join(runDir, HistoryFile), []byte(hist.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	res := checker.Check(context.Background(), ops, checker.Options{Workload: "register", Visualize: true})
	if err := Write(runDir, res); err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(runDir, ops, res); err != nil {
		t.Fatal(err)
	}
	cmpDir, err = NewCompareDir(store, time.Date(2026, 1, 2, 3, 10, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(cmpDir, runDir)
	row := CompareRow{N: 3, W: 1, R: 1, Mode: "lww", Run: rel}
	row.Fill(res)
	if err := WriteComparison(cmpDir, Comparison{Started: time.Date(2026, 1, 2, 3, 10, 0, 0, time.UTC), Workload: "register", Nemesis: "partition", Rows: []CompareRow{row}}); err != nil {
		t.Fatal(err)
	}
	// A run still going: a history, nothing checked yet, no test.json.
	going := filepath.Join(store, "set", "20260101T000000.000Z")
	if err := os.MkdirAll(going, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(going, HistoryFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(store, "escape")); err != nil {
		t.Fatal(err)
	}
	return store, runDir, cmpDir
}

// serveStore serves a testStore over real HTTP until the test ends.
func serveStore(t *testing.T) (url, store, runDir, cmpDir string) {
	t.Helper()
	store, runDir, cmpDir = testStore(t)
	srv, err := NewServer(store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs.URL, store, runDir, cmpDir
}

// rawGet sends target verbatim (no client-side path cleaning).
func rawGet(t *testing.T, addr, method, target string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", method, target, addr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServe(t *testing.T) {
	url, store, runDir, cmpDir := serveStore(t)
	addr := strings.TrimPrefix(url, "http://")
	runPath := "/" + filepath.ToSlash(mustRel(t, store, runDir))
	cmpPath := "/" + filepath.ToSlash(mustRel(t, store, cmpDir))

	cases := []struct {
		name, method, target string
		status               int
		want, wantNot        []string
	}{
		{"index", "GET", "/", 200,
			[]string{"quorumlab store", "N3 W1 R1 lww", `verdict v-invalid`, runPath[1:] + "/report.html", cmpPath[1:] + "/compare.html", "3/1/1 lww", "2 runs, 1 comparisons", "20260101T000000.000Z", "not checked"},
			[]string{"ZgotmplZ", "escape"}},
		{"report", "GET", runPath + "/report.html", 200, []string{"<svg", "INVALID", `href="linear-k.html"`}, nil},
		{"porcupine view", "GET", runPath + "/linear-k.html", 200, []string{"<html"}, nil},
		{"hgrm", "GET", runPath + "/latency-read-ok.hgrm", 200, []string{"Percentile"}, nil},
		{"comparison", "GET", cmpPath + "/compare.html", 200, []string{"<svg", "3/1/1 lww", "../../register/"}, nil},
		{"latest link inside the store", "GET", "/latest/report.html", 200, []string{"<svg"}, nil},
		{"run directory listing", "GET", runPath + "/", 200, []string{"history.jsonl", "<style>", "modified", `href="report.html"`, "the store"}, nil},
		{"listing through a symlink out of the store", "GET", "/escape/", 0, nil, []string{"secret.txt"}},
		{"dot-dot", "GET", "/../secret.txt", 404, nil, []string{"SECRET"}},
		{"encoded dot-dot", "GET", "/%2e%2e/secret.txt", 404, nil, []string{"SECRET"}},
		{"dot-dot inside a run", "GET", runPath + "/../../../secret.txt", 404, nil, []string{"SECRET"}},
		{"symlink out of the store", "GET", "/escape/secret.txt", 0, nil, []string{"SECRET"}},
		{"missing", "GET", "/nope/report.html", 404, nil, nil},
		{"post", "POST", "/", 405, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := rawGet(t, addr, c.method, c.target)
			if c.status != 0 && status != c.status {
				t.Errorf("%s %s: status %d, want %d", c.method, c.target, status, c.status)
			}
			if c.status == 0 && status == 200 {
				t.Errorf("%s %s: status 200, want a refusal", c.method, c.target)
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s %s: body lacks %q", c.method, c.target, w)
				}
			}
			for _, w := range c.wantNot {
				if strings.Contains(body, w) {
					t.Errorf("%s %s: body contains %q", c.method, c.target, w)
				}
			}
		})
	}
}

// The links on the index lead to pages that exist.
func TestServeIndexLinks(t *testing.T) {
	url, _, _, _ := serveStore(t)
	_, body := rawGet(t, strings.TrimPrefix(url, "http://"), "GET", "/")
	links := 0
	for _, part := range strings.Split(body, `href="`)[1:] {
		link := part[:strings.IndexByte(part, '"')]
		resp, err := http.Get(url + "/" + link)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("link %s: status %d", link, resp.StatusCode)
		}
		links++
	}
	if links < 6 {
		t.Errorf("only %d links on the index", links)
	}
}

func mustRel(t *testing.T, base, target string) string {
	t.Helper()
	rel, err := filepath.Rel(base, target)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}
