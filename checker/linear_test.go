package checker

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/history"
)

func TestLinearizable(t *testing.T) {
	const ok, fail, info = history.OK, history.Fail, history.Info
	tests := []struct {
		name    string
		ops     []history.Op
		want    Verdict
		kinds   []string // anomaly kinds, in order
		culprit int64    // start time (ms) of the op an anomaly should name; 0: don't care
	}{
		{"empty", nil, Unknown, nil, 0},
		{"read write read", hist(
			read(1, 0, 5),
			write(0, 1, 0, 10, ok),
			read(1, 20, 30, 1),
		), Valid, nil, 0},
		{"concurrent read may see either", hist(
			write(0, 1, 0, 10, ok),
			write(0, 2, 20, 40, ok),
			read(1, 25, 30, 1),
			read(2, 26, 31, 2),
		), Valid, nil, 0},
		{"stale read after completed write", hist(
			write(0, 1, 0, 10, ok),
			write(0, 2, 20, 30, ok),
			read(1, 40, 50, 1),
		), Invalid, []string{RealTimeStaleRead}, 40},
		{"absent after completed write", hist(
			write(0, 1, 0, 10, ok),
			read(1, 20, 30),
		), Invalid, []string{RealTimeStaleRead}, 20},
		{"siblings", hist(
			write(0, 1, 0, 10, ok),
			write(1, 2, 0, 10, ok),
			read(2, 20, 30, 1, 2),
		), Invalid, []string{Conflict}, 20},
		{"info write took effect", hist(
			write(0, 1, 0, 10, ok),
			write(0, 2, 20, 30, info),
			read(1, 40, 50, 2),
			read(1, 60, 70, 2),
		), Valid, nil, 0},
		{"info write did not take effect", hist(
			write(0, 1, 0, 10, ok),
			write(0, 2, 20, 30, info),
			read(1, 40, 50, 1),
		), Valid, nil, 0},
		{"info write took effect late", hist(
			write(0, 1, 0, 10, ok),
			write(0, 2, 20, 30, info),
			read(1, 40, 50, 1),
			read(1, 60, 70, 2),
		), Valid, nil, 0},
		{"info write cannot take effect twice", hist(
			write(0, 1, 0, 10, ok),
			write(0, 2, 20, 30, info),
			read(1, 40, 50, 2),
			write(2, 3, 60, 70, ok),
			read(1, 80, 90, 2),
		), Invalid, []string{RealTimeStaleRead}, 80},
		{"never completed write took effect", hist(
			write(0, 1, 0, 10, ok),
			write(0, 2, 20, 0, ""),
			read(1, 40, 50, 2),
		), Valid, nil, 0},
		{"value read before its write began", hist(
			read(1, 0, 5, 2),
			write(0, 2, 20, 30, info),
		), Invalid, []string{FutureRead}, 0},
		{"failed write read", hist(
			write(0, 1, 0, 10, ok),
			write(0, 2, 20, 30, fail),
			read(1, 40, 50, 2),
		), Invalid, []string{FailedWriteRead}, 40},
		{"unwritten value", hist(
			write(0, 1, 0, 10, ok),
			read(1, 20, 30, 7),
		), Invalid, []string{UnwrittenRead}, 20},
		{"hard but small", hardHistory(4), Invalid, []string{Nonlinearizable}, 0},
		{"failed and info reads constrain nothing", hist(
			write(0, 1, 0, 10, ok),
			call(1, history.FRead, nil, 20, 30, fail, history.Ints(nil)),
			call(2, history.FRead, nil, 20, 30, info, nil),
		), Valid, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkLinearizable(context.Background(), tt.ops, Options{Visualize: true})
			if got.Error != "" && len(tt.ops) > 0 {
				t.Fatal(got.Error)
			}
			if got.Verdict != tt.want {
				t.Fatalf("verdict %s, want %s (anomalies %+v)", got.Verdict, tt.want, got.Anomalies)
			}
			if len(tt.ops) > 0 && got.Keys["k"] != tt.want {
				t.Errorf("key verdict %s, want %s", got.Keys["k"], tt.want)
			}
			var kinds []string
			for _, a := range got.Anomalies {
				kinds = append(kinds, a.Kind)
			}
			if !equal(kinds, tt.kinds) {
				t.Fatalf("anomalies %+v, want kinds %v", got.Anomalies, tt.kinds)
			}
			if tt.culprit != 0 {
				want := indexOf(tt.ops, tt.culprit, history.Invoke) + 1 // its completion follows
				if a := got.Anomalies[0]; len(a.Ops) != 1 || a.Ops[0] != want {
					t.Errorf("anomaly ops %v, want [%d]", a.Ops, want)
				}
			}
			if vis := got.Visualizations["k"]; (tt.want == Invalid) != (len(vis) > 0) {
				t.Errorf("visualization of %d bytes for a %s key", len(vis), tt.want)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLinearizablePerKey(t *testing.T) {
	ops := hist(
		nemesis(0, "start-partition"),
		keyed("a", 0, history.FWrite, history.Int(1), 0, 10, history.OK, nil),
		keyed("b", 1, history.FWrite, history.Int(2), 0, 10, history.OK, nil),
		keyed("a", 2, history.FRead, nil, 20, 30, history.OK, history.Ints([]int64{1})),
		keyed("b", 3, history.FRead, nil, 20, 30, history.OK, history.Ints(nil)),
		nemesis(40, "stop-partition"),
	)
	got := checkLinearizable(context.Background(), ops, Options{Visualize: true})
	if got.Verdict != Invalid || got.Keys["a"] != Valid || got.Keys["b"] != Invalid {
		t.Fatalf("verdict %s, keys %v", got.Verdict, got.Keys)
	}
	if len(got.Anomalies) != 1 || got.Anomalies[0].Key != "b" {
		t.Errorf("anomalies %+v", got.Anomalies)
	}
	vis := got.Visualizations["b"]
	if _, ok := got.Visualizations["a"]; ok || !bytes.Contains(vis, []byte("partition")) || !bytes.Contains(vis, []byte("read → absent")) {
		t.Errorf("visualizations: %d keys, b annotated: %v", len(got.Visualizations), bytes.Contains(vis, []byte("partition")))
	}
}

// hardHistory is not linearizable, has no witness, and porcupine can only
// tell by trying every subset of n concurrent writes: three reads at the end
// see 0, 1 and 0 again, which needs 0 written twice. 1 is written twice, so
// the zone test does not apply.
func hardHistory(n int) []history.Op {
	var ops [][]history.Op
	for i := range n {
		ops = append(ops, write(i, int64(i), 0, 1000, history.OK))
	}
	ops = append(ops, write(n+1, 1, 0, 1000, history.OK))
	ops = append(ops, read(n, 900, 901, 0), read(n, 902, 903, 1), read(n, 904, 905, 0))
	return hist(ops...)
}

func TestLinearizableTimeout(t *testing.T) {
	tests := []struct {
		name    string
		ops     []history.Op
		timeout time.Duration
	}{
		{"before it starts", hardHistory(4), time.Nanosecond},
		{"while searching", hardHistory(40), 100 * time.Millisecond},
		{"info writes, 1ns", func() []history.Op {
			var ops [][]history.Op
			for i := range 30 {
				ops = append(ops, write(i, int64(i), 0, 100, history.Info))
				ops = append(ops, read(100+i, 1, 99, int64(29-i)))
			}
			ops = append(ops, write(30, 0, 0, 100, history.Info)) // a value written twice: a search
			return hist(ops...)
		}(), time.Nanosecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			got := checkLinearizable(context.Background(), tt.ops, Options{Timeout: tt.timeout})
			if got.Verdict != Unknown || got.Keys["k"] != Unknown {
				t.Errorf("verdict %s (key %s), want unknown", got.Verdict, got.Keys["k"])
			}
			if d := time.Since(start); d > tt.timeout+2*time.Second {
				t.Errorf("took %v with a timeout of %v", d, tt.timeout)
			}
		})
	}
}

func TestLinearizableCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	if got := checkLinearizable(ctx, hardHistory(40), Options{}); got.Verdict != Unknown {
		t.Errorf("verdict %s, want unknown", got.Verdict)
	}
}
