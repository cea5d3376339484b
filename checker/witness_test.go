package checker

import (
	"compress/gzip"
	"context"
	"os"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/history"
)

func TestWitnesses(t *testing.T) {
	const ok, fail, info = history.OK, history.Fail, history.Info
	tests := []struct {
		name string
		ops  []history.Op
		want []string // witness kinds, in read order
		// text the first witness must contain
		text string
	}{
		{"future read", hist(
			read(1, 0, 5, 2),
			write(0, 2, 20, 30, ok),
		), []string{FutureRead}, "invoked after the read completed"},
		{"future read of an info write", hist(
			read(1, 0, 5, 2),
			write(0, 2, 20, 30, info),
		), []string{FutureRead}, ""},
		{"stale read", hist(
			write(0, 1, 0, 10, ok),
			write(0, 2, 20, 30, ok),
			read(1, 40, 50, 1),
		), []string{RealTimeStaleRead}, "the write of 2"},
		{"stale absent", hist(
			write(0, 1, 0, 10, ok),
			read(1, 20, 30),
		), []string{RealTimeStaleRead}, "returned nothing"},
		{"stale after an observed info write", hist(
			write(0, 1, 0, 10, info),
			read(1, 20, 30, 1), // 1 took effect by 30
			write(2, 2, 40, 50, ok),
			read(1, 60, 70, 1),
		), []string{RealTimeStaleRead}, ""},
		{"unwritten value", hist(
			write(0, 1, 0, 10, ok),
			read(1, 20, 30, 7),
		), []string{UnwrittenRead}, "no operation wrote"},
		{"failed write read", hist(
			write(0, 3, 0, 10, fail),
			read(1, 20, 30, 3),
		), []string{FailedWriteRead}, "certainly did not happen"},
		{"faults named", hist(
			nemesis(0, "start-partition"),
			write(0, 1, 1, 10, ok),
			read(1, 20, 30),
			nemesis(40, "stop-partition"),
		), []string{RealTimeStaleRead}, "faults active then: partition"},

		// No witness: these need a search or are fine.
		{"concurrent write is no witness", hist(
			write(0, 1, 0, 10, ok),
			write(2, 2, 20, 45, ok),
			read(1, 40, 50, 1),
		), nil, ""},
		{"overlapping writes", hist(
			write(0, 1, 0, 30, ok),
			write(2, 2, 20, 35, ok),
			read(1, 40, 50, 1),
		), nil, ""},
		{"unobserved info write", hist(
			write(0, 1, 0, 10, ok),
			write(2, 2, 20, 30, info),
			read(1, 40, 50, 1),
		), nil, ""},
		{"value written twice", hist(
			write(0, 1, 0, 10, ok),
			write(2, 2, 20, 30, ok),
			write(3, 1, 32, 35, ok),
			read(1, 40, 50, 1),
		), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := registerHistories(mustPair(t, tt.ops))
			if err != nil {
				t.Fatal(err)
			}
			got := witnesses(keys[0], history.Faults(tt.ops), false)
			var kinds []string
			for _, w := range got {
				kinds = append(kinds, w.Kind)
			}
			if !equal(kinds, tt.want) {
				t.Fatalf("witnesses %v, want %v", kinds, tt.want)
			}
			if tt.text != "" && !strings.Contains(got[0].Text, tt.text) {
				t.Errorf("witness text %q lacks %q", got[0].Text, tt.text)
			}
			for _, w := range got {
				if w.Ops[0].Outcome != "ok" || w.Ops[0].EndMs == nil {
					t.Errorf("first op of %s is not the ok read: %+v", w.Kind, w.Ops[0])
				}
			}
		})
	}
}

func TestZones(t *testing.T) {
	const ok, info = history.OK, history.Info
	tests := []struct {
		name    string
		ops     []history.Op
		invalid bool
	}{
		{"two forward zones overlap", hist(
			// 1 is read, then read again after 2 was read; 2 likewise.
			write(0, 1, 0, 100, ok),
			write(1, 2, 0, 100, ok),
			read(2, 10, 20, 1),
			read(3, 10, 20, 2),
			read(4, 30, 40, 1),
			read(5, 30, 40, 2),
		), true},
		{"backward zone inside a forward zone", hist(
			// 2's cluster lies inside [10, 20], where 1's must be; its write
			// ends late, so no single read is stale.
			write(0, 1, 0, 10, ok),
			write(2, 2, 11, 30, ok),
			read(1, 13, 17, 2),
			read(3, 20, 25, 1),
		), true},
		{"initial value read after a write took effect", hist(
			write(0, 1, 0, 100, ok),
			read(1, 10, 20, 1),
			read(2, 30, 40),
		), true},
		{"observed info write read in both orders", hist(
			write(0, 1, 0, 100, info),
			write(1, 2, 0, 100, info),
			read(2, 10, 20, 1),
			read(3, 10, 20, 2),
			read(4, 30, 40, 1),
			read(5, 30, 40, 2),
		), true},
		{"backward zones may overlap", hist(
			write(0, 1, 0, 30, ok),
			write(1, 2, 5, 35, ok),
			read(2, 10, 40, 1),
			read(3, 12, 45, 2),
		), false},
		{"forward zones in sequence", hist(
			write(0, 1, 0, 10, ok),
			read(1, 20, 30, 1),
			write(2, 2, 40, 50, ok),
			read(3, 60, 70, 2),
		), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := registerHistories(mustPair(t, tt.ops))
			if err != nil {
				t.Fatal(err)
			}
			if w := witnesses(keys[0], nil, false); len(w) > 0 {
				t.Fatalf("a linear witness (%s) makes this no test of zones", w[0].Kind)
			}
			got := zones(keys[0], nil)
			if (len(got) > 0) != tt.invalid {
				t.Fatalf("zone conflicts %+v, want invalid=%v", got, tt.invalid)
			}
			if want := unpatched(t, tt.ops) == Invalid; want != tt.invalid {
				t.Fatalf("porcupine says invalid=%v: the case is wrong", want)
			}
			for _, w := range got {
				if w.Kind != OrderConflict || len(w.Ops) < 3 || !strings.Contains(w.Text, "wholly before or after") {
					t.Errorf("witness %+v", w)
				}
			}
		})
	}
}

func TestPatchedCounts(t *testing.T) {
	const ok, fail, info = history.OK, history.Fail, history.Info
	ops := hist(
		write(0, 1, 0, 10, ok),
		write(1, 2, 0, 10, info), // read below: returns at that read
		write(2, 3, 0, 10, info), // never read: dropped
		write(3, 4, 0, 10, fail),
		read(4, 20, 30, 2),
		call(5, history.FRead, nil, 20, 30, fail, nil),
		call(6, history.FRead, nil, 20, 30, info, nil),
	)
	got := checkLinearizable(context.Background(), ops, Options{})
	want := Patched{UnobservedInfoWrites: 1, ObservedInfoWrites: 1, FailedWrites: 1, UninformativeReads: 2}
	if got.Patched != want {
		t.Errorf("patched %+v, want %+v", got.Patched, want)
	}
	if got.Verdict != Valid {
		t.Errorf("verdict %s", got.Verdict)
	}
}

// readFixture reads a gzipped history from testdata.
func readFixture(t *testing.T, name string) []history.Op {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	ops, _, err := history.Read(z)
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

// TestFixtureLWWWeakQuorum: one key, 30 clients, N3 W1 R1 lww under
// partitions. Porcupine alone needed more than 24 GB on it; the witnesses
// decide it in one pass.
func TestFixtureLWWWeakQuorum(t *testing.T) {
	ops := readFixture(t, "lww-w1r1-1key-30c.jsonl.gz")
	got := Check(context.Background(), ops, Options{Workload: "register", Timeout: time.Minute, Memory: 1 << 30, Visualize: true})
	l := got.Linearizable
	if got.Verdict != Invalid || l.DecidedBy["r0"] != byWitness {
		t.Fatalf("verdict %s, decided by %v, unknown %v", got.Verdict, l.DecidedBy, l.Unknown)
	}
	if len(l.Witnesses) == 0 || !strings.Contains(l.Witnesses[0].Text, "so the read had to see it") {
		t.Errorf("witnesses %+v", l.Witnesses)
	}
	if len(l.Visualizations["r0"]) == 0 {
		t.Errorf("no visualization: %v", l.NoVisualization)
	}
}

// TestMemoryBudget: a search that would grow without bound is cut short by
// the memory budget, reported as such, and the key is unknown.
func TestMemoryBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("grows the heap by a few hundred MB")
	}
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	budget := int64(s[0].Value.Uint64()) + 150<<20
	got := checkLinearizable(context.Background(), hardHistory(60), Options{Memory: budget, Timeout: 2 * time.Minute})
	if got.Verdict != Unknown || !strings.Contains(got.Unknown["k"], "memory budget") {
		t.Fatalf("verdict %s, unknown %q", got.Verdict, got.Unknown["k"])
	}
	if got.PeakMemoryMiB<<20 > budget {
		t.Errorf("peak %d MiB past the budget of %d MiB", got.PeakMemoryMiB, budget>>20)
	}
}

func TestProgress(t *testing.T) {
	var b strings.Builder
	w := &lockedWriter{b: &b}
	got := checkLinearizable(context.Background(), hardHistory(60), Options{Timeout: progressAfter + time.Second, Progress: w})
	if got.Verdict != Unknown {
		t.Fatalf("verdict %s", got.Verdict)
	}
	if s := w.String(); !strings.Contains(s, "0/1 keys decided") || !strings.Contains(s, "searching k: 64 ops") {
		t.Errorf("progress output %q", s)
	}
}

func TestWarnsWhenNoFaultTookEffect(t *testing.T) {
	ops := hist(write(0, 1, 0, 10, history.OK), read(1, 20, 30, 1))
	if w := Check(context.Background(), ops, Options{Workload: "register", Faults: []string{"partition"}}).Warnings; len(w) != 1 || !strings.Contains(w[0], "none took effect") {
		t.Errorf("warnings %q, want one saying no fault took effect", w)
	}
	ops = hist(nemesis(0, "start-partition"), write(0, 1, 1, 10, history.OK), nemesis(15, "stop-partition"), read(1, 20, 30, 1))
	if w := Check(context.Background(), ops, Options{Workload: "register", Faults: []string{"partition"}}).Warnings; len(w) != 0 {
		t.Errorf("warnings %q for a run whose partition happened", w)
	}
}

func TestResultsSchema(t *testing.T) {
	for _, ops := range [][]history.Op{nil, hist(write(0, 1, 0, 10, history.OK))} {
		if s := Check(context.Background(), ops, Options{Workload: "register"}).Schema; s != ResultsSchema {
			t.Errorf("schema %d, want %d", s, ResultsSchema)
		}
	}
}
