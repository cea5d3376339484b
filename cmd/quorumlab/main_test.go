package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quorumlab/quorumlab/checker"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const validHistory = `{"index":0,"time":0,"process":0,"type":"invoke","f":"write","key":"k","value":1}
{"index":1,"time":10,"process":0,"type":"ok","f":"write","key":"k","value":1}
{"index":2,"time":20,"process":1,"type":"invoke","f":"read","key":"k"}
{"index":3,"time":30,"process":1,"type":"ok","f":"read","key":"k","value":[1]}
`

// A read after a completed write returns the initial (absent) value.
const invalidHistory = `{"index":0,"time":0,"process":0,"type":"invoke","f":"write","key":"k","value":1}
{"index":1,"time":10,"process":0,"type":"ok","f":"write","key":"k","value":1}
{"index":2,"time":20,"process":1,"type":"invoke","f":"read","key":"k"}
{"index":3,"time":30,"process":1,"type":"ok","f":"read","key":"k","value":[]}
`

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name       string
		args       []string
		want       int
		wantStderr string
	}{
		{"valid history", []string{"check", writeFile(t, dir, "valid.jsonl", validHistory)}, checker.ExitValid, ""},
		{"invalid history", []string{"check", writeFile(t, dir, "invalid.jsonl", invalidHistory)}, checker.ExitInvalid, ""},
		{"truncated last line is accepted", []string{"check", writeFile(t, dir, "trunc.jsonl", validHistory+`{"index":4,"ti`)}, checker.ExitValid, ""},
		{"malformed line", []string{"check", writeFile(t, dir, "bad.jsonl", strings.Replace(validHistory, `"type":"ok","f":"write"`, `"type":ok`, 1))}, checker.ExitHarness, "line 2"},
		{"missing history", []string{"check", filepath.Join(dir, "nope")}, checker.ExitHarness, "no such file"},
		{"bad flag", []string{"run", "--nodes", "many"}, checker.ExitHarness, "invalid argument"},
		{"unknown command", []string{"frobnicate"}, checker.ExitHarness, "unknown command"},
		{"unknown fault", []string{"run", "--nemesis", "flood", "--backend", "none"}, checker.ExitHarness, "unknown fault"},
		{"empty history", []string{"check", writeFile(t, dir, "empty.jsonl", "")}, checker.ExitUnknown, ""},
		{"pbs built-in model", []string{"pbs", "--model", "lnkd-ssd", "--trials", "2000"}, checker.ExitValid, ""},
		{"pbs unknown model", []string{"pbs", "--model", "nope"}, checker.ExitHarness, "want one of lnkd-ssd"},
		{"pbs run without latencies", []string{"pbs", "--model", dir}, checker.ExitHarness, "no measured replica latencies"},
		{"pbs bad p", []string{"pbs", "--p", "1.5"}, checker.ExitHarness, "between 0 and 1"},
		{"pbs bad quorum", []string{"pbs", "--r", "4"}, checker.ExitHarness, "R=4"},
		{"no client operation", []string{"check", writeFile(t, dir, "nemesis.jsonl", `{"index":0,"time":0,"process":-1,"type":"info","f":"start-kill"}`+"\n")}, checker.ExitUnknown, ""},
		{"duplicate index", []string{"check", writeFile(t, dir, "dup.jsonl", strings.Replace(validHistory, `"index":1,`, `"index":0,`, 1))}, checker.ExitHarness, "line 2: index 0 does not follow index 0"},
		{"negative time", []string{"check", writeFile(t, dir, "order.jsonl", strings.Replace(validHistory, `"time":10,`, `"time":-10,`, 1))}, checker.ExitHarness, "line 2: negative time"},
	}
	for _, store := range []string{t.TempDir()} {
		for _, bad := range []struct {
			name, want string
			args       []string
		}{
			{"bad mode", "unknown mode", []string{"--mode", "lin"}},
			{"zero vnodes", "vnodes=0", []string{"--vnodes", "0"}},
			{"negative check timeout", "check timeout", []string{"--check-timeout", "-1s"}},
			{"negative value size", "value size -1", []string{"--value-size", "-1"}},
			{"bad check memory", "not a size", []string{"--check-memory", "lots"}},
			{"faults that cannot happen", "no fault could take effect", []string{"--time-limit", "2s", "--nemesis-interval", "10s"}},
			{"empty partition shape", "cuts nothing on 3 nodes", []string{"--nodes", "3", "--nemesis", "partition", "--partition-shape", "majorities-ring"}},
			{"home replicas with nothing else", "every node is a home replica", []string{"--nodes", "3", "--nemesis", "partition", "--partition-shape", "home-replicas"}},
			{"aimed shape without keys", "use the register or set workload", []string{"--workload", "ycsb", "--nemesis", "partition", "--partition-shape", "key-primary"}},
			{"bad nemesis targets", "unknown nemesis targets", []string{"--nemesis", "kill", "--nemesis-targets", "half"}},
			{"power on docker", "needs --backend local", []string{"--nemesis", "power", "--backend", "docker"}},
			{"power on etcd", "not for etcd", []string{"--nemesis", "power", "--target", "etcd"}},
			{"set writers without keys", "leaves clients without a key", []string{"--workload", "set", "--writers-per-key", "1", "--keys", "4", "--concurrency", "8"}},
		} {
			tests = append(tests, struct {
				name       string
				args       []string
				want       int
				wantStderr string
			}{bad.name, append([]string{"run", "--store", store}, bad.args...), checker.ExitHarness, bad.want})
		}
		t.Cleanup(func() {
			// Bad flags are refused before anything is written.
			if entries, _ := os.ReadDir(store); len(entries) > 0 {
				t.Errorf("refused runs left %d entries in the store", len(entries))
			}
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got := run(context.Background(), nil, tt.args, &stdout, &stderr)
			if got != tt.want {
				t.Fatalf("exit %d, want %d; stderr: %s", got, tt.want, stderr.String())
			}
			if tt.wantStderr != "" && !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Fatalf("stderr %q does not mention %q", stderr.String(), tt.wantStderr)
			}
			if tt.want == checker.ExitHarness && strings.Count(strings.TrimSpace(stderr.String()), "\n") > 0 {
				t.Fatalf("harness errors must be one line, got:\n%s", stderr.String())
			}
		})
	}
}

func TestCheckRewritesResults(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "history.jsonl", invalidHistory)
	var stdout, stderr bytes.Buffer
	if got := run(context.Background(), nil, []string{"check", dir}, &stdout, &stderr); got != checker.ExitInvalid {
		t.Fatalf("exit %d, stderr %s", got, stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil || !strings.Contains(string(b), `"verdict": "invalid"`) {
		t.Fatalf("results.json: %v %s", err, b)
	}
	if !strings.Contains(stdout.String(), "INVALID") {
		t.Fatalf("summary does not show the verdict:\n%s", stdout.String())
	}
}
