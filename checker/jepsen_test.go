package checker

import (
	"context"
	"os"
	"testing"

	"github.com/quorumlab/quorumlab/history"
)

// TestJepsenLogs checks the hand-made Jepsen logs of history/testdata.
func TestJepsenLogs(t *testing.T) {
	tests := []struct {
		file  string
		want  Verdict
		kinds []string
	}{
		{"linearizable.log", Valid, nil},
		{"lost-update.log", Invalid, []string{Nonlinearizable}},
		{"timeouts.log", Valid, nil},
		{"timeouts-stale.log", Invalid, []string{RealTimeStaleRead}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open("../history/testdata/jepsen/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ops, _, err := history.ReadJepsenLog(f)
			if err != nil {
				t.Fatal(err)
			}
			got := Check(context.Background(), ops, Options{Workload: "register"})
			if got.Verdict != tt.want || got.Linearizable.Keys[history.JepsenKey] != tt.want {
				t.Fatalf("verdict %s (keys %v, anomalies %+v), want %s", got.Verdict, got.Linearizable.Keys, got.Linearizable.Anomalies, tt.want)
			}
			if want := unpatched(t, ops); want != tt.want {
				t.Fatalf("porcupine on the unpatched history says %s", want)
			}
			var kinds []string
			for _, a := range got.Linearizable.Anomalies {
				kinds = append(kinds, a.Kind)
			}
			if !equal(kinds, tt.kinds) {
				t.Errorf("anomalies %+v, want kinds %v", got.Linearizable.Anomalies, tt.kinds)
			}
		})
	}
}
