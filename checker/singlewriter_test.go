package checker

import (
	"context"
	"testing"

	"github.com/quorumlab/quorumlab/history"
)

func TestSingleWriter(t *testing.T) {
	model := []history.Op{{Time: 0, Process: history.NemesisProcess, Type: history.Info, F: history.FModel,
		Value: history.JSON(history.Model{Register: history.ModelSingleWriter})}}
	tests := []struct {
		name           string
		ops            [][]history.Op
		linear, single Verdict
	}{
		// Write 2 is in flight: one reader sees it, a later one does not.
		// Not linearizable, but no read is older than a completed write.
		{"new-old inversion of a write in flight", [][]history.Op{
			write(0, 1, 1, 2, history.OK),
			write(0, 2, 3, 20, history.Info),
			read(1, 4, 5, 2),
			read(2, 6, 7, 1),
		}, Invalid, Valid},
		// Write 2 completed before the read began: a lost or reordered
		// write, which the one writer rules out.
		{"stale read after a completed write", [][]history.Op{
			write(0, 1, 1, 2, history.OK),
			write(0, 2, 3, 4, history.OK),
			read(1, 5, 6, 1),
		}, Invalid, Invalid},
		{"fresh reads", [][]history.Op{
			write(0, 1, 1, 2, history.OK),
			read(1, 3, 4, 1),
			write(0, 2, 5, 6, history.OK),
			read(1, 7, 8, 2),
		}, Valid, Valid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain := hist(tt.ops...)
			if got := Check(context.Background(), plain, Options{Workload: "register"}).Linearizable; got.Verdict != tt.linear || got.Model != "" {
				t.Errorf("linearizable: %s (model %q), want %s", got.Verdict, got.Model, tt.linear)
			}
			claimed := hist(append([][]history.Op{model}, tt.ops...)...)
			got := Check(context.Background(), claimed, Options{Workload: "register"}).Linearizable
			if got.Verdict != tt.single || got.Model != history.ModelSingleWriter {
				t.Errorf("single-writer: %s (model %q), want %s", got.Verdict, got.Model, tt.single)
			}
		})
	}
}
