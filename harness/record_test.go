package harness

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestTestRecordJSON(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Cluster.AdminToken = "s3cret"
	rec := testRecord{Config: cfg, Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ClusterStart: 1.5}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	cluster := m["cluster"].(map[string]any)
	workload := m["workload"].(map[string]any)
	nem := m["nemesis"].(map[string]any)
	for _, c := range []struct {
		got, want any
	}{
		{m["test"], "register"},
		{m["check_timeout"], "5m0s"},
		{cluster["request_timeout"], "1s"},
		{cluster["n"], 3.0},
		{cluster["read_repair"], "async"},
		{workload["time_limit"], "1m0s"},
		{workload["op_timeout"], "3s"},
		{nem["interval"], "10s"},
		{m["cluster_start_s"], 1.5},
		{m["started"], "2026-01-02T03:04:05Z"},
	} {
		if c.got != c.want {
			t.Errorf("got %v, want %v in %s", c.got, c.want, b)
		}
	}
	if strings.Contains(string(b), "s3cret") || strings.Contains(string(b), "admin") {
		t.Errorf("test.json holds the admin token: %s", b)
	}
	for k := range cluster {
		if strings.ToLower(k) != k {
			t.Errorf("key %q is not snake_case", k)
		}
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{"RequestTimeout": "request_timeout", "N": "n", "KVNodeBin": "kv_node_bin", "VNodes": "v_nodes", "ExtraArgs": "extra_args"} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}
