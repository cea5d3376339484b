package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/cluster/launch"
	"github.com/quorumlab/quorumlab/results"
)

// TestInterrupt sends real SIGINTs to a real `quorumlab run`, at start, during the
// workload, and twice, and checks that each ends with nothing left
// running, a results.json marked interrupted, and a history that
// `quorumlab check` still reads.
func TestInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end runs; skipped with -short")
	}
	ctx := t.Context()
	kv, err := launch.KVNodeBinary(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "quorumlab")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build quorumlab: %v\n%s", err, out)
	}
	tests := []struct {
		name    string
		marker  string        // stderr line after which to interrupt; "" once the run dir exists
		delay   time.Duration // after the marker
		signals int
		history bool // whether operations were recorded
	}{
		{"during start", "", 0, 1, false},
		{"during the workload", "cluster of 3 nodes up", 2 * time.Second, 1, true},
		{"twice", "cluster of 3 nodes up", 2 * time.Second, 2, true},
		{"during recovery and final reads", "before the final reads", 500 * time.Millisecond, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := t.TempDir()
			args := []string{"run", "--store", store, "--nodes", "3", "--time-limit", "60s", "--nemesis", "partition,kill", "--nemesis-interval", "2s"}
			if strings.Contains(tt.name, "final reads") {
				args = []string{"run", "--store", store, "--nodes", "3", "--time-limit", "3s", "--workload", "set", "--nemesis", "none", "--recovery", "20s"}
			}
			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), envKVNodeBin+"="+kv)
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			seen := make(chan struct{})
			var lines []string
			go func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					lines = append(lines, sc.Text())
					if tt.marker != "" && strings.Contains(sc.Text(), tt.marker) {
						close(seen)
						tt.marker = ""
					}
				}
			}()
			if tt.marker != "" {
				select {
				case <-seen:
				case <-time.After(60 * time.Second):
					cmd.Process.Kill()
					t.Fatalf("never saw %q", tt.marker)
				}
			} else {
				// The run dir is made once the flags are checked, before the
				// cluster starts: the signal handlers are in place by then.
				deadline := time.Now().Add(60 * time.Second)
				for {
					if dirs, _ := filepath.Glob(filepath.Join(store, "*", "2*")); len(dirs) > 0 {
						break
					}
					if time.Now().After(deadline) {
						cmd.Process.Kill()
						t.Fatal("no run directory within 60 s")
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			time.Sleep(tt.delay)
			start := time.Now()
			for i := range tt.signals {
				if i > 0 {
					time.Sleep(200 * time.Millisecond)
				}
				cmd.Process.Signal(syscall.SIGINT)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var werr error
			select {
			case werr = <-done:
			case <-time.After(90 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("still running 90 s after the interrupt")
			}
			t.Logf("exited %v after %v", werr, time.Since(start).Round(time.Millisecond))
			var ee *exec.ExitError
			if !errors.As(werr, &ee) || ee.ExitCode() != checker.ExitHarness {
				t.Errorf("exit %v, want %d (interrupted)\n%s", werr, checker.ExitHarness, strings.Join(lines, "\n"))
			}
			if left := processesUnder(store); len(left) > 0 {
				t.Errorf("processes left running: %v", left)
			}
			dirs, _ := filepath.Glob(filepath.Join(store, "*", "2*"))
			if len(dirs) != 1 {
				t.Fatalf("%d run directories", len(dirs))
			}
			var res struct {
				Verdict     string `json:"verdict"`
				Interrupted bool   `json:"interrupted"`
			}
			b, err := os.ReadFile(filepath.Join(dirs[0], results.ResultsFile))
			if err != nil || json.Unmarshal(b, &res) != nil || !res.Interrupted || res.Verdict == "" {
				t.Fatalf("results.json: %v, %s", err, b)
			}
			_, lerr := os.Stat(filepath.Join(store, results.LatestLink, results.ResultsFile))
			if tt.history != (lerr == nil) {
				t.Errorf("store/latest: %v; it must point at a run only if that run recorded something", lerr)
			}
			if tt.history {
				check := exec.Command(bin, "check", dirs[0], "--quiet")
				out, err := check.CombinedOutput()
				if errors.As(err, &ee) && ee.ExitCode() == checker.ExitHarness || err != nil && !errors.As(err, &ee) {
					t.Errorf("quorumlab check of the interrupted run: %v\n%s", err, out)
				}
			}
		})
	}
}

// processesUnder lists the processes whose command line names dir.
func processesUnder(dir string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), dir) {
			out = append(out, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}
