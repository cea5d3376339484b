package main

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/quorumlab/quorumlab/results"
	"github.com/quorumlab/quorumlab/workload"
)

// storedWorkload reads the workload name from a run's test.json.
func storedWorkload(dir string) string {
	var t struct {
		Workload struct{ Name string }
	}
	b, err := os.ReadFile(filepath.Join(dir, results.TestFile))
	if err == nil && json.Unmarshal(b, &t) == nil && t.Workload.Name != "" {
		return t.Workload.Name
	}
	return workload.Register
}
