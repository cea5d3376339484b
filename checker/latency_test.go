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

// ycsbOp is one ycsb operation without values, times in ms; intended 0
// means closed loop.
func ycsbOp(proc int, f string, intended, start, end int64, outcome history.Type) []history.Op {
	ops := call(proc, f, nil, start, end, outcome, nil)
	ops[0].Intended = intended * 1e6
	return ops
}

func measure(at, warmupMs int64) []history.Op {
	return []history.Op{{
		Time: at * 1e6, Process: history.NemesisProcess, Type: history.Info, F: history.FMeasure,
		Value: history.JSON(map[string]int64{"warmup_ns": warmupMs * 1e6}),
	}}
}

func TestLatencyWindowAndCorrection(t *testing.T) {
	const ok = history.OK
	tests := []struct {
		name      string
		ops       []history.Op
		corrected bool
		// want: f/outcome -> p50 in ms, corrected (Ops) and uncorrected.
		want, wantUncorrected map[string]float64
		excluded              int
		start, end            int64 // ms
		throughput            float64
		perSecond             []float64
	}{
		{
			name: "closed loop, no marker: everything measured from invocation",
			ops: hist(
				ycsbOp(0, history.FRead, 0, 100, 110, ok),
				ycsbOp(1, history.FUpdate, 0, 200, 230, ok),
			),
			want:  map[string]float64{"read/ok": 10, "update/ok": 30},
			start: 100, end: 230, throughput: 2 / 0.13,
		},
		{
			name: "open loop: corrected from the intended start, uncorrected from the send",
			ops: hist(
				// Intended at 1 ms but sent at 900 ms: a client was stuck.
				ycsbOp(0, history.FRead, 1, 900, 910, ok),
				ycsbOp(1, history.FUpdate, 2, 2, 1002, history.Fail),
			),
			corrected:       true,
			want:            map[string]float64{"read/ok": 909, "update/fail": 1000},
			wantUncorrected: map[string]float64{"read/ok": 10, "update/fail": 1000},
			start:           1, end: 1002, throughput: 1 / 1.001, perSecond: []float64{1},
		},
		{
			name: "load and warmup before the marker's window are excluded",
			ops: hist(
				ycsbOp(100, history.FInsert, 0, 0, 5, ok), // load
				ycsbOp(101, history.FInsert, 0, 1, 7, ok),
				measure(10, 500),
				ycsbOp(0, history.FRead, 10, 10, 20, ok),         // warmup
				ycsbOp(1, history.FRead, 400, 600, 605, ok),      // intended in the warmup, sent after
				ycsbOp(2, history.FRead, 510, 510, 520, ok),      // second 0
				ycsbOp(3, history.FUpdate, 1600, 1600, 1700, ok), // second 1
				ycsbOp(4, history.FUpdate, 2300, 2300, 2400, history.Info),
				ycsbOp(5, history.FRead, 2600, 2600, 0, ""), // never completed
			),
			corrected:       true,
			want:            map[string]float64{"read/ok": 10, "update/ok": 100, "update/info": 100},
			wantUncorrected: map[string]float64{"read/ok": 10, "update/ok": 100, "update/info": 100},
			excluded:        4,
			// 1.89 s: one whole second; the partial one is left out.
			start: 510, end: 2400, throughput: 2 / 1.89, perSecond: []float64{1},
		},
		{
			name:     "interrupted during the warmup: nothing measured",
			ops:      hist(measure(0, 5000), ycsbOp(0, history.FRead, 10, 10, 20, ok)),
			excluded: 1, corrected: true,
			start: 5000, end: 5000,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := checkLatency(tt.ops)
			if l.Error != "" {
				t.Fatal(l.Error)
			}
			p50s := func(sums []LatencySummary) map[string]float64 {
				out := map[string]float64{}
				for _, s := range sums {
					out[s.F+"/"+string(s.Outcome)] = s.P50
				}
				return out
			}
			near := func(got, want map[string]float64) bool {
				if len(got) != len(want) {
					return false
				}
				for k, w := range want {
					if math.Abs(got[k]-w) > w*0.002+0.002 {
						return false
					}
				}
				return true
			}
			if got := p50s(l.Ops); !near(got, tt.want) {
				t.Errorf("p50s %v, want %v", got, tt.want)
			}
			if got := p50s(l.Uncorrected); !near(got, tt.wantUncorrected) {
				t.Errorf("uncorrected p50s %v, want %v", got, tt.wantUncorrected)
			}
			if l.Corrected != tt.corrected || l.Excluded != tt.excluded {
				t.Errorf("corrected %v excluded %d, want %v %d", l.Corrected, l.Excluded, tt.corrected, tt.excluded)
			}
			if l.Start != tt.start*1e6 || l.End != tt.end*1e6 {
				t.Errorf("window %d..%d ns, want %d..%d ms", l.Start, l.End, tt.start, tt.end)
			}
			if math.Abs(l.Throughput-tt.throughput) > 1e-9 || !reflect.DeepEqual(l.PerSecond, tt.perSecond) {
				t.Errorf("throughput %v per second %v, want %v %v", l.Throughput, l.PerSecond, tt.throughput, tt.perSecond)
			}
		})
	}
}

// TestCorrectedPercentilesDiffer: the .hgrm of the corrected histogram sees
// the wait, the uncorrected one does not.
func TestCorrectedPercentilesDiffer(t *testing.T) {
	ops := hist(ycsbOp(0, history.FRead, 1, 900, 910, history.OK))
	l := checkLatency(ops)
	c, u := l.Percentiles(history.FRead, history.OK), l.uncorrectedPercentiles(history.FRead, history.OK)
	if !strings.Contains(c, "909.") || !strings.Contains(u, "10.0") || strings.Contains(u, "909.") {
		t.Fatalf("corrected:\n%s\nuncorrected:\n%s", c, u)
	}
	if p := checkLatency(hist(read(0, 0, 10))).uncorrectedPercentiles(history.FRead, history.OK); p != "" {
		t.Errorf("closed loop has uncorrected percentiles: %q", p)
	}
}

// TestCheckYCSBWithoutValues: ycsb histories carry no values; the ycsb
// checks (stats, latency, availability) need none.
func TestCheckYCSBWithoutValues(t *testing.T) {
	ops := hist(
		ycsbOp(100, history.FInsert, 0, 0, 5, history.OK),
		measure(10, 0),
		ycsbOp(0, history.FRead, 20, 20, 30, history.OK),
		ycsbOp(1, history.FRMW, 21, 21, 40, history.OK),
		ycsbOp(2, history.FUpdate, 22, 22, 50, history.Info),
	)
	r := Check(context.Background(), ops, Options{Workload: "ycsb"})
	if r.Verdict != Valid || r.Error != "" {
		t.Fatalf("verdict %s (%s)", r.Verdict, r.Error)
	}
	if r.Stats.Total.Invoked != 4 || r.Availability.Total.OK != 3 || len(r.Latency.Ops) != 3 || r.Latency.Excluded != 1 {
		t.Fatalf("stats %+v availability %+v latency %+v", r.Stats.Total, r.Availability.Total, r.Latency)
	}
	b, err := json.Marshal(r.Latency)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"start_ns"`, `"p9999_ms"`, `"corrected":true`, `"uncorrected"`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("latency JSON lacks %s: %s", field, b)
		}
	}
}
