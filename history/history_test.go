package history

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	in := []Op{
		{Time: 1, Process: 0, Type: Invoke, F: FWrite, Key: "k", Value: Int(7)},
		{Time: 2, Process: NemesisProcess, Type: Info, F: "start-partition", Value: JSON(map[string]any{"isolated": []string{"n1"}})},
		{Time: 3, Process: 0, Type: OK, F: FWrite, Key: "k", Value: Int(7), Node: "n2"},
		{Time: 4, Process: 1, Type: Invoke, F: FRead, Key: "k"},
		{Time: 5, Process: 1, Type: Info, F: FRead, Key: "k", Error: "deadline exceeded"},
		{Time: 6, Process: 2, Type: Invoke, F: FRead, Key: "k"},
		{Time: 7, Process: 2, Type: OK, F: FRead, Key: "k", Value: Ints([]int64{7, 8})},
	}
	for i, op := range in {
		got, err := w.Append(op)
		if err != nil {
			t.Fatal(err)
		}
		if got.Index != int64(i) {
			t.Fatalf("Append #%d: index %d", i, got.Index)
		}
		in[i].Index = int64(i)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append(Op{Type: Invoke}); err == nil {
		t.Error("Append after Close succeeded")
	}
	out, _, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
}

func TestConcurrentAppend(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	const procs, each = 8, 500
	var wg sync.WaitGroup
	for p := range procs {
		wg.Go(func() {
			for i := range each {
				if _, err := w.Append(Op{Process: p, Type: Invoke, F: FWrite, Value: Int(int64(i))}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ops, _, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != procs*each {
		t.Fatalf("read %d ops, want %d", len(ops), procs*each)
	}
	next := make(map[int]int64)
	for i, op := range ops {
		if op.Index != int64(i) {
			t.Fatalf("line %d has index %d", i+1, op.Index)
		}
		v, err := op.IntValue()
		if err != nil {
			t.Fatal(err)
		}
		if v != next[op.Process] {
			t.Fatalf("process %d: value %d, want %d", op.Process, v, next[op.Process])
		}
		next[op.Process]++
	}
}

func TestWriterFlushesInBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Append(Op{Type: Invoke, F: FRead}); err != nil {
		t.Fatal(err)
	}
	// No Flush: a killed harness must still leave its history on disk.
	deadline := 3 * flushInterval
	for waited := time.Duration(0); ; waited += flushInterval / 10 {
		if ops, _, err := ReadFile(path); err == nil && len(ops) == 1 {
			return
		}
		if waited > deadline {
			t.Fatal("op not flushed in the background")
		}
		time.Sleep(flushInterval / 10)
	}
}

func TestRead(t *testing.T) {
	const (
		a = `{"index":0,"time":1,"process":0,"type":"invoke","f":"read","key":"k"}`
		b = `{"index":1,"time":2,"process":0,"type":"ok","f":"read","key":"k","value":[]}`
	)
	long := fmt.Sprintf(`{"index":1,"time":2,"process":0,"type":"ok","f":"read","key":"k","error":%q}`, strings.Repeat("x", 200<<10))
	tests := []struct {
		name    string
		in      string
		n       int    // ops read
		wantErr string // substring of the error; "" for none
		warning string // substring of the one warning; "" for none
	}{
		{"empty", "", 0, "", ""},
		{"complete", a + "\n" + b + "\n", 2, "", ""},
		{"no final newline", a + "\n" + b, 2, "", ""},
		{"truncated last line", a + "\n" + b[:30], 1, "", "line 2: the last line is cut short"},
		{"blank trailing lines", a + "\n" + b + "\n\n  \n", 2, "", ""},
		{"long line", a + "\n" + long + "\n", 2, "", ""},
		{"long torn line", a + "\n" + long[:100<<10], 1, "", "line 2: the last line is cut short"},
		{"malformed middle line", a + "\n" + b[:30] + "\n" + b + "\n", 0, "line 2", ""},
		{"malformed last line with newline", a + "\n" + b[:30] + "\n", 0, "line 2", ""},
		{"blank middle line", a + "\n\n" + b + "\n", 0, "line 2", ""},
		{"unknown type", a + "\n" + strings.Replace(b, `"ok"`, `"done"`, 1) + "\n", 0, `line 2: unknown op type "done"`, ""},
		{"duplicate index", a + "\n" + strings.Replace(b, `"index":1`, `"index":0`, 1) + "\n", 0, "line 2: index 0 does not follow index 0", ""},
		{"index going back", strings.Replace(a, `"index":0`, `"index":5`, 1) + "\n" + b + "\n", 0, "line 2: index 1 does not follow index 5", ""},
		{"negative time", strings.Replace(a, `"time":1`, `"time":-1`, 1) + "\n", 0, "line 1: negative time -1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, warnings, err := Read(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ops) != tt.n {
				t.Fatalf("read %d ops, want %d", len(ops), tt.n)
			}
			if tt.warning == "" && len(warnings) > 0 || tt.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], tt.warning)) {
				t.Errorf("warnings %q, want one containing %q", warnings, tt.warning)
			}
		})
	}
}

func TestReadFileMissing(t *testing.T) {
	if _, _, err := ReadFile(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want not-exist", err)
	}
}

func TestPair(t *testing.T) {
	inv := func(i int64, p int, f string) Op { return Op{Index: i, Time: i, Process: p, Type: Invoke, F: f} }
	done := func(i int64, p int, ty Type, f string) Op { return Op{Index: i, Time: i, Process: p, Type: ty, F: f} }
	tests := []struct {
		name    string
		ops     []Op
		want    []int64 // completion index per pairing, -1 for none
		wantErr string
	}{
		{"interleaved", []Op{
			inv(0, 0, FWrite), inv(1, 1, FRead),
			{Index: 2, Process: NemesisProcess, Type: Info, F: "start-kill"},
			done(3, 1, OK, FRead), done(4, 0, Info, FWrite), inv(5, 2, FRead),
		}, []int64{4, 3, -1}, ""},
		{"two outstanding", []Op{inv(0, 0, FWrite), inv(1, 0, FRead)}, nil, "outstanding"},
		{"orphan completion", []Op{done(0, 3, OK, FRead)}, nil, "without an invocation"},
		{"f mismatch", []Op{inv(0, 0, FWrite), done(1, 0, OK, FRead)}, nil, "does not match"},
		{"completed before invoked", []Op{{Index: 0, Time: 9, Process: 0, Type: Invoke, F: FRead}, done(1, 0, OK, FRead)}, nil, "before its invocation 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pairs, err := Pair(tt.ops)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, p := range pairs {
				got = append(got, p.Completion.Index)
				if !p.Completed() && (p.Completion.Time != Infinity || p.Completion.Type != Info) {
					t.Errorf("uncompleted op %d: completion %+v", p.Invoke.Index, p.Completion)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("completions %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	nem := func(time int64, f string) Op { return Op{Time: time, Process: NemesisProcess, Type: Info, F: f} }
	ops := []Op{
		nem(10, "start-partition"),
		nem(11, "start-partition"), // repeated start: ignored
		nem(20, "start-kill"),
		nem(30, "stop-partition"),
		nem(35, "stop-pause"), // never started: ignored
		nem(40, "start-partition"),
		nem(50, FinalHeal),
		nem(60, "start-loss"),
		{Time: 70, Process: 0, Type: Invoke, F: FRead},
	}
	want := []Fault{
		{Kind: "partition", Start: 10, End: 30},
		{Kind: "kill", Start: 20, End: 50},
		{Kind: "partition", Start: 40, End: 50},
		{Kind: "loss", Start: 60, End: 70},
	}
	if got := Faults(ops); !reflect.DeepEqual(got, want) {
		t.Errorf("Faults:\n got %+v\nwant %+v", got, want)
	}
}

// TestRecorderTimesInFileOrder: concurrent records reach the file in the
// order of their times.
func TestRecorderTimesInFileOrder(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	r := NewRecorder(w, NewClock())
	var wg sync.WaitGroup
	for p := range 8 {
		wg.Go(func() {
			for range 2000 {
				r.Record(Op{Process: p, Type: Invoke, F: FRead})
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ops, _, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(ops); i++ {
		if ops[i].Time < ops[i-1].Time {
			t.Fatalf("line %d at %d ns follows one at %d ns", i+1, ops[i].Time, ops[i-1].Time)
		}
	}
}
