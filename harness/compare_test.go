package harness_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/cluster/local"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/nemesis"
	"github.com/quorumlab/quorumlab/results"
)

func TestParseQuorums(t *testing.T) {
	cases := []struct {
		in   string
		want []harness.Quorum
		err  bool
	}{
		{"3/1/1", []harness.Quorum{{N: 3, W: 1, R: 1}}, false},
		{"3/1/1, 3/2/2,5/3/3", []harness.Quorum{{3, 1, 1}, {3, 2, 2}, {5, 3, 3}}, false},
		{"3/1", nil, true},
		{"3/0/1", nil, true},
		{"3/a/1", nil, true},
		{"", nil, true},
	}
	for _, c := range cases {
		got, err := harness.ParseQuorums(c.in)
		if (err != nil) != c.err || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseQuorums(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

// Combinations that cannot run are skipped with the reason, before any
// cluster starts.
func TestCompareSkips(t *testing.T) {
	// A kvnode whose serve command has no --sloppy flag.
	fake := filepath.Join(t.TempDir(), "kvnode")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'Flags:'\necho '  --id string   node id'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		q      []harness.Quorum
		modes  []string
		sloppy []bool
		want   []string
	}{
		{"linearizable without overlapping quorums", []harness.Quorum{{3, 1, 1}, {3, 2, 1}}, []string{"linearizable"}, nil,
			[]string{"3/1/1 linearizable: mode linearizable needs W + R > N", "3/2/1 linearizable: mode linearizable needs W + R > N"}},
		{"sloppy quorums kvnode lacks", []harness.Quorum{{3, 2, 2}}, []string{"lww"}, []bool{true},
			[]string{"3/2/2 lww sloppy: kvnode does not support sloppy quorums yet"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := harness.DefaultConfig()
			base.Store = t.TempDir()
			base.Cluster.KVNodeBin = fake
			var progress bytes.Buffer
			_, _, err := harness.Compare(context.Background(), harness.CompareConfig{
				Base: base, Quorums: c.q, Modes: c.modes, Sloppy: c.sloppy, Progress: &progress,
			}, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), "every combination was skipped") {
				t.Errorf("err = %v, want every combination skipped", err)
			}
			for _, w := range c.want {
				if !strings.Contains(progress.String(), w) {
					t.Errorf("progress lacks %q:\n%s", w, progress.String())
				}
			}
			if entries, _ := os.ReadDir(base.Store); len(entries) != 0 {
				t.Errorf("the store is not empty: nothing should have run")
			}
		})
	}
}

func TestCompareTwoConfigurations(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end comparison; skipped with -short")
	}
	base := harness.DefaultConfig()
	base.Store = t.TempDir()
	base.Cluster.Nodes = 3
	base.Workload.TimeLimit = 5 * time.Second
	base.Nemesis.Faults = []string{nemesis.Partition}
	base.Nemesis.Interval = 2 * time.Second
	if !local.InNamespace() {
		base.Nemesis.Faults = nil // no network faults outside a namespace
	}
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, cmp, err := harness.Compare(ctx, harness.CompareConfig{
		Base:     base,
		Quorums:  []harness.Quorum{{3, 1, 1}, {3, 2, 2}},
		Modes:    []string{"lww"},
		Progress: &progress,
	}, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	t.Logf("progress:\n%s", progress.String())
	if err != nil {
		t.Fatalf("compare: %v", err)
	}
	if len(cmp.Rows) != 2 {
		t.Fatalf("%d rows, want 2", len(cmp.Rows))
	}
	for i, want := range []string{"3/1/1 lww", "3/2/2 lww"} {
		r := cmp.Rows[i]
		if r.Label() != want || r.Error != "" {
			t.Errorf("row %d: %s (error %q), want %s", i, r.Label(), r.Error, want)
		}
		if r.Throughput <= 0 {
			t.Errorf("%s: throughput %v", want, r.Throughput)
		}
		if r.Read == nil || r.Read.P50 <= 0 || r.Read.P99 < r.Read.P50 || r.Write == nil || r.Write.P50 <= 0 {
			t.Errorf("%s: latencies read %+v write %+v", want, r.Read, r.Write)
		}
		if r.Linearizable == "" || r.StaleShare == nil || len(r.Visibility) == 0 {
			t.Errorf("%s: register figures missing: %+v", want, r)
		}
		report, err := os.ReadFile(filepath.Join(dir, r.Run, results.ReportFile))
		if err != nil {
			t.Errorf("%s: the row's link leads nowhere: %v", want, err)
		} else if !bytes.Contains(report, []byte("<svg")) {
			t.Errorf("%s: report.html has no SVG plot", want)
		} else if !bytes.Contains(report, []byte("predicted (WARS)")) || !bytes.Contains(report, []byte("Predicted by PBS")) {
			t.Errorf("%s: report.html lacks the predicted t-visibility curve", want)
		}
		// The prediction comes from this run's own replica latencies; with
		// R + W > N it must say every read is fresh.
		if len(r.Predicted) == 0 {
			t.Errorf("%s: no staleness prediction", want)
		} else if strict := r.W+r.R > r.N; strict && r.Predicted[0].Predicted != 1 {
			t.Errorf("%s: predicted P(fresh at 0) = %v, want 1 for a strict quorum", want, r.Predicted[0].Predicted)
		}
		t.Logf("%s: %s, %.0f ops/s, read p99 %.2f ms, write p99 %.2f ms", want, r.Verdict, r.Throughput, r.Read.P99, r.Write.P99)
	}
	var stored results.Comparison
	b, err := os.ReadFile(filepath.Join(dir, results.CompareJSON))
	if err != nil || json.Unmarshal(b, &stored) != nil || len(stored.Rows) != 2 {
		t.Errorf("compare.json: %v, %d rows", err, len(stored.Rows))
	}
	html, err := os.ReadFile(filepath.Join(dir, results.CompareHTML))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(html, []byte("<svg")); n < 3 {
		t.Errorf("compare.html has %d SVG plots, want 3 (throughput, latency, t-visibility)", n)
	}
	md, err := os.ReadFile(filepath.Join(dir, results.CompareMD))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(md, []byte("| 3/1/1 lww |")) || !bytes.Contains(md, []byte("| 3/2/2 lww |")) {
		t.Errorf("compare.md lacks a row:\n%s", md)
	}
	for _, w := range []string{"[1/2] 3/1/1 lww: running", "[2/2] 3/2/2 lww: running", "(last: 3/1/1 lww"} {
		if !strings.Contains(progress.String(), w) {
			t.Errorf("progress lacks %q", w)
		}
	}
}
