package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quorumlab/quorumlab/checker"
)

// runCheck runs `quorumlab check args…` as main does.
func runCheck(args ...string) (code int, stdout, stderr string) {
	var out, errs bytes.Buffer
	code = run(context.Background(), nil, append([]string{"check"}, args...), &out, &errs)
	return code, out.String(), errs.String()
}

// copyLog copies a Jepsen log of history/testdata into a directory of its
// own, since check writes the results beside it.
func copyLog(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "history", "testdata", "jepsen", name))
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, t.TempDir(), name, string(b))
}

func TestCheckJepsenLog(t *testing.T) {
	const pre = "INFO  jepsen.util - "
	tests := []struct {
		name       string
		log        string // a file of history/testdata/jepsen, or the log itself
		args       []string
		want       int
		verdict    string // in results.json; "" none written
		wantStderr string
	}{
		{"linearizable", "linearizable.log", nil, checker.ExitValid, "valid", ""},
		{"lost update", "lost-update.log", nil, checker.ExitInvalid, "invalid", ""},
		{"timed-out reads and info writes", "timeouts.log", nil, checker.ExitValid, "valid", ""},
		{"stale read after an info cas", "timeouts-stale.log", nil, checker.ExitInvalid, "invalid", ""},
		{"no client operation", pre + ":nemesis\t:info\t:start\tnil\nINFO  jepsen.core - done\n", nil, checker.ExitUnknown, "unknown", ""},
		{"bad line", pre + "0\t:invoke\t:write\t1\n" + pre + "0\t:ok\t:write\tone\n", nil, checker.ExitHarness, "", "line 2: :ok :write \"one\""},
		{"another workload", "linearizable.log", []string{"--workload", "set"}, checker.ExitHarness, "", "a Jepsen log is a register history"},
		{"unknown format", "linearizable.log", []string{"--format", "edn"}, checker.ExitHarness, "", "unknown format \"edn\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var path string
			if strings.HasSuffix(tt.log, ".log") {
				path = copyLog(t, tt.log)
			} else {
				path = writeFile(t, t.TempDir(), "jepsen.log", tt.log)
			}
			args := append([]string{"--quiet", "--format", "jepsen-log", path}, tt.args...)
			got, stdout, stderr := runCheck(args...)
			if got != tt.want {
				t.Fatalf("exit %d, want %d; stdout %s; stderr %s", got, tt.want, stdout, stderr)
			}
			if tt.wantStderr != "" && !strings.Contains(stderr, tt.wantStderr) {
				t.Fatalf("stderr %q does not mention %q", stderr, tt.wantStderr)
			}
			if tt.want == checker.ExitHarness && strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Fatalf("harness errors must be one line, got:\n%s", stderr)
			}
			b, err := os.ReadFile(filepath.Join(filepath.Dir(path), "results.json"))
			switch {
			case tt.verdict == "" && err == nil:
				t.Fatalf("results.json written for a refused check")
			case tt.verdict != "" && (err != nil || !strings.Contains(string(b), fmt.Sprintf(`"verdict": %q`, tt.verdict))):
				t.Fatalf("results.json: %v %.300s", err, b)
			}
		})
	}
}

// TestCheckFormatHistory: the default format is still history.jsonl.
func TestCheckFormatHistory(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"--quiet", writeFile(t, dir, "valid.jsonl", validHistory)}, checker.ExitValid},
		{[]string{"--quiet", "--format", "history", writeFile(t, dir, "invalid.jsonl", invalidHistory)}, checker.ExitInvalid},
		{[]string{"--quiet", "--format", "jepsen-log", writeFile(t, dir, "valid2.jsonl", validHistory)}, checker.ExitUnknown}, // no Jepsen line in it
	} {
		if got, _, stderr := runCheck(tt.args...); got != tt.want {
			t.Errorf("%v: exit %d, want %d; stderr %s", tt.args, got, tt.want, stderr)
		}
	}
}
