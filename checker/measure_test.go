package checker

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/quorumlab/quorumlab/history"
)

func TestCombine(t *testing.T) {
	tests := []struct {
		in   []Verdict
		want Verdict
	}{
		{nil, Valid},
		{[]Verdict{Valid, Valid}, Valid},
		{[]Verdict{Valid, Unknown}, Unknown},
		{[]Verdict{Unknown, Invalid, Valid}, Invalid},
		{[]Verdict{Invalid, Unknown}, Invalid},
		{[]Verdict{Valid, ""}, Unknown},
	}
	for _, tt := range tests {
		if got := Combine(tt.in...); got != tt.want {
			t.Errorf("Combine(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestVerdictExitCode(t *testing.T) {
	for v, want := range map[Verdict]int{Valid: 0, Invalid: 1, Unknown: 2, "": 2, "bogus": 2} {
		if got := v.ExitCode(); got != want {
			t.Errorf("%q.ExitCode() = %d, want %d", v, got, want)
		}
	}
}

// faultyHistory has a partition from 100 to 200 ms.
func faultyHistory() []history.Op {
	const ok, fail, info = history.OK, history.Fail, history.Info
	return hist(
		write(0, 1, 50, 60, ok),
		nemesis(100, "start-partition"),
		write(1, 2, 120, 130, fail),
		call(2, history.FRead, nil, 150, 400, info, nil),
		read(3, 160, 170, 1),
		nemesis(200, "stop-partition"),
		read(3, 250, 260, 1),
		write(4, 3, 260, 0, ""), // never completed
	)
}

func TestCheckAvailability(t *testing.T) {
	got := checkAvailability(faultyHistory())
	want := Availability{
		Faulty:  AvailabilityCounts{OK: 1, Fail: 1, Info: 1, Share: 1.0 / 3},
		Healthy: AvailabilityCounts{OK: 2, Share: 1},
		Total:   AvailabilityCounts{OK: 3, Fail: 1, Info: 1, Share: 0.6},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("availability\n got %+v\nwant %+v", got, want)
	}
}

func TestCheckStats(t *testing.T) {
	got := checkStats(faultyHistory())
	want := Stats{
		Ops: []OpStats{
			{F: "read", Invoked: 3, OK: 2, Info: 1},
			{F: "write", Invoked: 3, OK: 1, Fail: 1, Info: 1, Incomplete: 1},
		},
		Total:         OpStats{Invoked: 6, OK: 3, Fail: 1, Info: 2, Incomplete: 1},
		NemesisEvents: 2,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stats\n got %+v\nwant %+v", got, want)
	}
}

func TestCheckLatency(t *testing.T) {
	got := checkLatency(faultyHistory())
	var sums []string
	for _, s := range got.Ops {
		sums = append(sums, string(s.F)+"/"+string(s.Outcome))
	}
	if want := []string{"read/info", "read/ok", "write/fail", "write/ok"}; !equal(sums, want) {
		t.Fatalf("summaries %v, want %v", sums, want)
	}
	r := got.Ops[0] // read/info: 250 ms
	if r.Count != 1 || math.Abs(r.P50-250) > 0.5 || math.Abs(r.Max-250) > 0.5 || math.Abs(r.Mean-250) > 0.5 {
		t.Errorf("read/info: %+v", r)
	}
	if want := 3 / 0.35; math.Abs(got.Throughput-want) > 1e-9 { // 3 ok ops over 50..400 ms
		t.Errorf("throughput %v, want %v", got.Throughput, want)
	}
	if p := got.Percentiles("read", history.OK); !strings.Contains(p, "Percentile") || !strings.Contains(p, "10.0") {
		t.Errorf("percentiles:\n%s", p)
	}
	if p := got.Percentiles("read", history.Fail); p != "" {
		t.Errorf("percentiles of nothing: %q", p)
	}
}

func TestCheck(t *testing.T) {
	stale := append(faultyHistory(), hist(read(5, 300, 310))...)
	for i := range stale {
		stale[i].Index = int64(i)
	}
	tests := []struct {
		name     string
		ops      []history.Op
		workload string
		want     Verdict
	}{
		{"register valid", faultyHistory(), "register", Valid},
		{"register invalid", stale, "register", Invalid},
		{"set unknown without final reads", hist(add(0, 1, 0, 10, history.OK)), "set", Unknown},
		{"ycsb", hist(call(0, history.FUpdate, nil, 0, 10, history.OK, nil)), "ycsb", Valid},
		{"unknown workload", faultyHistory(), "bank", Unknown},
		{"unpaired history", hist(read(0, 0, 10), read(0, 5, 20)), "register", Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(context.Background(), tt.ops, Options{Workload: tt.workload, Visualize: true})
			if got.Verdict != tt.want {
				t.Fatalf("verdict %s, want %s (%+v)", got.Verdict, tt.want, got)
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "<html") {
				t.Error("results.json holds a visualization")
			}
		})
	}
}
