package results

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/history"
)

func TestCompareRowFill(t *testing.T) {
	lat := checker.Latency{Throughput: 500, Ops: []checker.LatencySummary{
		{F: "read", Outcome: history.Fail, P50: 9},
		{F: "read", Outcome: history.OK, P50: 1, P99: 2, P999: 3},
		{F: "update", Outcome: history.OK, P50: 4, P99: 5, P999: 6},
	}}
	register := checker.Check(context.Background(), registerHistory(false), checker.Options{Workload: "register"})
	cases := []struct {
		name  string
		res   checker.Results
		check func(t *testing.T, r CompareRow)
	}{
		{"register with faults", register, func(t *testing.T, r CompareRow) {
			if r.Linearizable != checker.Valid || r.StaleShare == nil || len(r.Visibility) == 0 || r.LostWrites != nil {
				t.Errorf("register figures: %+v", r)
			}
			if r.FaultAvailability == nil {
				t.Errorf("no availability under faults, though faults were injected")
			}
			if r.Read == nil || r.Write == nil || r.Write.F != "write" {
				t.Errorf("latencies: read %+v write %+v", r.Read, r.Write)
			}
		}},
		{"ycsb without faults: ok latencies, update as the write", checker.Results{Verdict: checker.Valid, Latency: lat}, func(t *testing.T, r CompareRow) {
			if r.Read == nil || r.Read.P50 != 1 || r.Write == nil || r.Write.F != "update" || r.Write.P999 != 6 {
				t.Errorf("latencies: read %+v write %+v", r.Read, r.Write)
			}
			if r.FaultAvailability != nil || r.StaleShare != nil || r.Linearizable != "" {
				t.Errorf("figures that do not apply are set: %+v", r)
			}
		}},
		{"set", checker.Results{Verdict: checker.Invalid, Set: &checker.SetResult{Lost: 7}}, func(t *testing.T, r CompareRow) {
			if r.LostWrites == nil || *r.LostWrites != 7 || r.Verdict != checker.Invalid {
				t.Errorf("set figures: %+v", r)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r CompareRow
			r.Fill(c.res)
			c.check(t, r)
		})
	}
}

func TestWriteComparison(t *testing.T) {
	res := checker.Check(context.Background(), registerHistory(true), checker.Options{Workload: "register"})
	var a, b CompareRow
	a = CompareRow{N: 3, W: 1, R: 1, Mode: "lww", Run: "../../register/A"}
	a.Fill(res)
	b = CompareRow{N: 3, W: 2, R: 2, Mode: "lww", Run: "../../register/B"}
	b.Fill(checker.Check(context.Background(), registerHistory(false), checker.Options{Workload: "register"}))
	failed := CompareRow{N: 3, W: 3, R: 1, Mode: "lww", Sloppy: true, Error: "cluster did not form"}
	c := Comparison{
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Workload: "register", Nemesis: "partition",
		Rows:    []CompareRow{a, b, failed},
		Skipped: []string{"3/1/1 linearizable: mode linearizable needs W + R > N"},
	}
	dir := t.TempDir()
	if err := WriteComparison(dir, c); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	html, md, js := read(CompareHTML), read(CompareMD), read(CompareJSON)
	if n := strings.Count(html, "<svg"); n != 3 {
		t.Errorf("compare.html has %d plots, want 3", n)
	}
	for _, w := range []string{`href="../../register/A/report.html"`, `href="../../register/B/report.html"`, "3/3/1 lww sloppy", "harness failed: cluster did not form",
		"v-invalid", "v-valid", "mode linearizable needs W &#43; R &gt; N"} {
		if !strings.Contains(html, w) {
			t.Errorf("compare.html lacks %q", w)
		}
	}
	if strings.Contains(html, "ZgotmplZ") {
		t.Errorf("compare.html: template rejected a value")
	}
	lines := 0
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "| 3/") {
			lines++
		}
	}
	if lines != 3 || !strings.Contains(md, "[report](../../register/A/report.html)") || !strings.Contains(md, "- 3/1/1 linearizable") {
		t.Errorf("compare.md: %d rows, want 3:\n%s", lines, md)
	}
	if !strings.Contains(js, `"fault_availability"`) || !strings.Contains(js, `"visibility"`) {
		t.Errorf("compare.json lacks figures:\n%s", js)
	}
}
