package harness_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/nemesis"
)

// TestPowerLoss cuts every node's power together, again and again: with
// fsync on nothing acknowledged may be lost in any mode; with it off the
// set checker must report lost adds (a kill alone would not: the page
// cache keeps a killed process's writes).
func TestPowerLoss(t *testing.T) {
	tests := []struct {
		mode      string
		fsync     bool
		wantValid bool
	}{
		{"vclock", true, true},
		{"lww", true, true},
		{"linearizable", true, true},
		{"vclock", false, false},
	}
	for _, tt := range tests {
		name := tt.mode + "/fsync=" + map[bool]string{true: "on", false: "off"}[tt.fsync]
		t.Run(name, func(t *testing.T) {
			out := runTest(t, func(c *harness.Config) {
				c.Cluster.Nodes = 3
				c.Cluster.Mode = tt.mode
				c.Cluster.Fsync = tt.fsync
				c.Workload.Name = "set"
				c.Workload.Keys = 10
				c.Workload.Concurrency = 10
				if tt.mode != "vclock" {
					// A read-modify-write alone on its key: lww and
					// linearizable sets lose concurrent adds otherwise.
					c.Workload.WritersPerKey = 1
				}
				c.Workload.TimeLimit = 10 * time.Second
				c.Nemesis.Faults = []string{nemesis.Power}
				c.Nemesis.Targets = nemesis.TargetAll
				c.Nemesis.Interval = 2 * time.Second
			})
			set := out.Results.Set
			if set == nil {
				t.Fatal("no set results")
			}
			if tt.wantValid && (out.Results.Verdict != checker.Valid || set.Lost != 0) {
				t.Fatalf("fsync on: verdict %s, %+v; want nothing lost", out.Results.Verdict, set)
			}
			if !tt.wantValid && (out.Results.Verdict != checker.Invalid || set.Lost == 0) {
				t.Fatalf("fsync off: verdict %s, %+v; want lost acknowledged adds", out.Results.Verdict, set)
			}
			if set.Acknowledged < 300 {
				t.Fatalf("only %d acknowledged adds: the test did not exercise the cluster", set.Acknowledged)
			}
			lost := lostBytes(t, out.Dir)
			if !tt.fsync && lost == 0 {
				t.Fatal("fsync off, yet no power fault discarded a byte")
			}
			t.Logf("power faults discarded %d bytes of unsynced writes", lost)
			if m, _ := os.ReadFile("/proc/self/mounts"); strings.Contains(string(m), "powerfs") {
				t.Fatalf("a power-loss file system is still mounted:\n%s", m)
			}
			if _, err := os.Stat(filepath.Join(out.Dir, "data", ".power")); !os.IsNotExist(err) {
				t.Fatalf("mount points left behind: %v", err)
			}
		})
	}
}

// lostBytes sums what the run's power faults discarded.
func lostBytes(t *testing.T, dir string) int64 {
	t.Helper()
	ops := runHistory(t, dir)
	var total int64
	starts := 0
	for _, op := range ops {
		if op.F != "start-"+nemesis.Power {
			continue
		}
		starts++
		var v struct {
			Lost map[string]int64 `json:"lost_bytes"`
		}
		if err := json.Unmarshal(op.Value, &v); err != nil {
			t.Fatalf("power fault value %s: %v", op.Value, err)
		}
		if len(v.Lost) != 3 {
			t.Fatalf("power fault %s: want all 3 nodes", op.Value)
		}
		for _, b := range v.Lost {
			total += b
		}
	}
	if starts < 2 {
		t.Fatalf("%d power faults: want repeated ones", starts)
	}
	return total
}
