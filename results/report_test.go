package results

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/history"
)

// builder makes hand-written histories: one op at a time, each process
// sequential, times in ms.
type builder struct{ ops []history.Op }

func (b *builder) add(op history.Op) {
	op.Index = int64(len(b.ops))
	b.ops = append(b.ops, op)
}

// op records an invocation at ms and its completion after lat ms.
func (b *builder) op(proc int, f, key string, atMs, latMs float64, out history.Type, arg, result json.RawMessage) {
	b.add(history.Op{Time: int64(atMs * 1e6), Process: proc, Type: history.Invoke, F: f, Key: key, Value: arg})
	b.add(history.Op{Time: int64((atMs + latMs) * 1e6), Process: proc, Type: out, F: f, Key: key, Value: result})
}

func (b *builder) nemesis(atMs float64, f string) {
	b.add(history.Op{Time: int64(atMs * 1e6), Process: history.NemesisProcess, Type: history.Info, F: f, Value: json.RawMessage(`{"shape":"halves"}`)})
}

// sortByTime keeps the history in time order, as a recorder writes it.
func (b *builder) sorted() []history.Op {
	ops := append([]history.Op(nil), b.ops...)
	for i := 1; i < len(ops); i++ {
		for j := i; j > 0 && ops[j].Time < ops[j-1].Time; j-- {
			ops[j], ops[j-1] = ops[j-1], ops[j]
		}
	}
	for i := range ops {
		ops[i].Index = int64(i)
	}
	return ops
}

// registerHistory: writes of 1..n then reads; stale makes one read return
// an overwritten value (not linearizable).
func registerHistory(stale bool) []history.Op {
	var b builder
	b.nemesis(300, "start-partition")
	t := 0.0
	for v := int64(1); v <= 6; v++ {
		b.op(0, history.FWrite, "k", t, 20, history.OK, history.Int(v), nil)
		want := v
		if stale && v == 5 {
			want = 2
		}
		b.op(1, history.FRead, "k", t+30, 5, history.OK, nil, history.Ints([]int64{want}))
		t += 100
	}
	b.op(2, history.FWrite, "k", 350, 1000, history.Info, history.Int(99), nil)
	b.op(3, history.FWrite, "k", 360, 50, history.Fail, history.Int(98), nil)
	b.nemesis(800, "stop-partition")
	return b.sorted()
}

func TestReport(t *testing.T) {
	test := []byte(`{"test":"register","started":"2026-01-02T03:04:05Z","cluster":{"Nodes":5,"N":3,"W":1,"R":1,"Mode":"lww","RequestTimeout":1000000000,"AdminToken":"secret"},"workload":{"Name":"register","TimeLimit":5000000000},"nemesis":{"Faults":["partition"]},"command":["quorumlab","run","--w","1","--r","1"]}`)
	cases := []struct {
		name    string
		ops     []history.Op
		test    []byte
		want    []string
		wantNot []string
	}{
		{
			name: "valid register",
			ops:  registerHistory(false),
			test: test,
			want: []string{"<svg", `verdict big v-valid`, "VALID", "N3 W1 R1 lww", "read latency over time", "write latency over time",
				"t-visibility", "fault: partition", "latency-read-ok.hgrm", "1s", "(set)", "Started as <code>quorumlab run --w 1 --r 1</code>"},
			wantNot: []string{"secret", "linear-k.html", `src="http`, `href="http`, "url("},
		},
		{
			name:    "stale read is invalid and links porcupine's view",
			ops:     registerHistory(true),
			test:    test,
			want:    []string{"<svg", `verdict big v-invalid`, "INVALID", `href="linear-k.html"`, "stale-read", "so the read had to see it or a later value", "Patched before the search"},
			wantNot: []string{`src="http`, `href="http`, "url("},
		},
		{
			name: "damaged test.json",
			ops:  registerHistory(false),
			test: []byte(`{"test":"register","cluster":{"N":`),
			want: []string{"<svg", "VALID", "test.json: "},
		},
		{
			name: "no test.json",
			ops:  registerHistory(false),
			want: []string{"<svg", "VALID", "<h1>run"},
		},
		{
			name: "open loop",
			ops: func() []history.Op {
				ops := registerHistory(false)
				for i := range ops {
					if ops[i].Type == history.Invoke && !ops[i].IsNemesis() {
						ops[i].Intended = max(ops[i].Time-2e6, 1)
					}
				}
				return ops
			}(),
			want: []string{"<svg", "Open loop: operations are placed at their intended start", "intended start since the beginning (s)"},
		},
		{
			name:    "empty history",
			ops:     nil,
			want:    []string{"no completed operations", "No faults"},
			wantNot: []string{"<svg"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := checker.Check(context.Background(), c.ops, checker.Options{Workload: "register", Visualize: true})
			html, err := renderReport(c.ops, res, c.test, nil)
			if err != nil {
				t.Fatal(err)
			}
			s := string(html)
			for _, w := range c.want {
				if !strings.Contains(s, w) {
					t.Errorf("report lacks %q", w)
				}
			}
			for _, w := range c.wantNot {
				if strings.Contains(s, w) {
					t.Errorf("report contains %q", w)
				}
			}
			if strings.Contains(s, "ZgotmplZ") {
				t.Errorf("template rejected a value (ZgotmplZ)")
			}
		})
	}
}

// A long history keeps every failed operation in the scatter but only a
// sample of the ok ones, so the page stays small.
func TestReportLargeHistory(t *testing.T) {
	var b builder
	const n, fails = 150_000, 700
	for i := range n {
		out := history.OK
		if i%(n/fails) == 0 {
			out = history.Fail
		}
		f := history.FRead
		if i%2 == 0 {
			f = history.FWrite
		}
		// 10 processes, each sequential, 10 ms apart.
		b.op(i%10, f, "k", float64(i/10)*10, 1+float64(i%7), out, history.Int(int64(i)), history.Ints([]int64{int64(i)}))
	}
	ops := b.sorted()
	measured := checker.Check(context.Background(), ops, checker.Options{Workload: "ycsb"})
	res := checker.Results{Verdict: checker.Valid, Latency: measured.Latency, Stats: measured.Stats}
	start := time.Now()
	html, err := renderReport(ops, res, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report of %d ops: %.1f MB in %v", n, float64(len(html))/1e6, time.Since(start).Round(time.Millisecond))
	if strings.Contains(string(html), `class="err"`) {
		t.Errorf("a plot failed")
	}
	if len(html) > 6<<20 {
		t.Errorf("report is %.1f MB, want at most 6", float64(len(html))/1e6)
	}
	if !strings.Contains(string(html), "operations drawn: every failed") {
		t.Errorf("report does not say the scatter is sampled")
	}
	// Every fail is drawn: fail points are the only glyphs in the fail colour.
	if got := strings.Count(string(html), "fill:#D62728"); got < fails {
		t.Errorf("%d fail points drawn, want all %d", got, fails)
	}
}

func TestThin(t *testing.T) {
	mk := func(ok, fail int) []sample {
		var ss []sample
		for i := range ok + fail {
			out := history.OK
			if i < fail {
				out = history.Fail
			}
			ss = append(ss, sample{outcome: out, start: float64(i)})
		}
		return ss
	}
	cases := []struct {
		name              string
		ok, fail, limit   int
		wantOK, wantOther int
	}{
		{"under the limit", 10, 5, 100, 10, 5},
		{"ok thinned, fails kept", 1000, 50, 100, 50, 50},
		{"fails alone over the limit", 1000, 500, 100, 0, 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := thin(mk(c.ok, c.fail), c.limit)
			var ok, other int
			for _, s := range got {
				if s.outcome == history.OK {
					ok++
				} else {
					other++
				}
			}
			if ok != c.wantOK || other != c.wantOther {
				t.Errorf("kept %d ok, %d other; want %d, %d", ok, other, c.wantOK, c.wantOther)
			}
		})
	}
}

func TestFlattenJSON(t *testing.T) {
	got, err := flattenJSON([]byte(`{"b":1,"a":{"TimeLimit":2000000000,"Faults":["kill","pause"],"AdminToken":"x","S":"s","Z":null}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []keyValue{{"b", "1"}, {"a.TimeLimit", "2s"}, {"a.Faults", "kill, pause"}, {"a.AdminToken", "(set)"}, {"a.S", "s"}, {"a.Z", "null"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("item %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, TestFile), []byte(`{"test":"mytest","cluster":{"N":3,"W":2,"R":2,"Mode":"linearizable"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ops := registerHistory(false)
	res := checker.Check(context.Background(), ops, checker.Options{Workload: "register"})
	if err := WriteReport(dir, ops, res); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"mytest", "N3 W2 R2 linearizable", "<svg"} {
		if !strings.Contains(string(b), w) {
			t.Errorf("report.html lacks %q", w)
		}
	}
}
