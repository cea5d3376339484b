package checker

import (
	"reflect"
	"testing"

	"github.com/quorumlab/quorumlab/history"
)

func TestCheckStaleness(t *testing.T) {
	const ok, info = history.OK, history.Info
	tests := []struct {
		name  string
		ops   []history.Op
		reads int
		stale []StaleRead // Op is the read's start time in ms, for brevity
	}{
		{"fresh", hist(
			write(0, 1, 0, 10, ok),
			read(1, 20, 30, 1),
		), 1, nil},
		{"before any write", hist(
			read(1, 0, 5),
			write(0, 1, 0, 10, ok),
			read(1, 5, 15, 1),
		), 2, nil},
		{"one version behind", hist(
			write(0, 1, 0, 10, ok),
			write(0, 2, 20, 30, ok),
			read(1, 40, 50, 1),
		), 1, []StaleRead{{Key: "k", Op: 40, VersionsBehind: 1, LagMs: 10}}},
		{"behind an ok cas", hist(
			write(0, 1, 0, 10, ok),
			cas(0, 1, 2, 20, 30, ok),
			cas(0, 1, 3, 32, 35, history.Fail),
			read(1, 40, 50, 1),
		), 1, []StaleRead{{Key: "k", Op: 40, VersionsBehind: 1, LagMs: 10}}},
		{"two versions behind", hist(
			write(0, 1, 0, 10, ok),
			write(0, 2, 20, 30, ok),
			write(0, 3, 40, 45, ok),
			read(1, 60, 70, 1),
		), 1, []StaleRead{{Key: "k", Op: 60, VersionsBehind: 2, LagMs: 15}}},
		{"absent after a write", hist(
			write(0, 1, 0, 10, ok),
			read(1, 25, 30),
		), 1, []StaleRead{{Key: "k", Op: 25, VersionsBehind: 1, LagMs: 15}}},
		{"concurrent writes are both fresh", hist(
			write(0, 1, 0, 10, ok),
			write(2, 2, 5, 30, ok),
			read(1, 40, 50, 1),
			read(1, 60, 70, 2),
		), 2, nil},
		{"superseded by a write other than the newest", hist(
			write(0, 1, 0, 10, ok),
			write(2, 2, 5, 40, ok),  // concurrent with 1, the newest
			write(0, 3, 20, 30, ok), // supersedes 1
			read(1, 50, 60, 1),
		), 1, []StaleRead{{Key: "k", Op: 50, VersionsBehind: 1, LagMs: 20}}},
		{"indeterminate write is never stale", hist(
			write(0, 1, 0, 10, info),
			write(1, 2, 20, 30, ok),
			read(2, 40, 50, 1),
		), 1, nil},
		{"a fresh sibling makes the read fresh", hist(
			write(0, 1, 0, 10, ok),
			write(0, 2, 20, 30, ok),
			read(1, 40, 50, 1, 2),
		), 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkStaleness(tt.ops)
			for i := range tt.stale {
				tt.stale[i].Op = indexOf(tt.ops, int64(tt.stale[i].Op), history.Invoke) + 1
			}
			if got.Verdict != Valid || got.Reads != tt.reads || got.Stale != len(tt.stale) || !reflect.DeepEqual(got.StaleReads, tt.stale) {
				t.Errorf("got %s: %d reads, %d stale %+v; want %d reads, stale %+v", got.Verdict, got.Reads, got.Stale, got.StaleReads, tt.reads, tt.stale)
			}
		})
	}
}

func TestVisibility(t *testing.T) {
	ops := hist(
		write(0, 1, 0, 10, history.OK),
		write(0, 2, 20, 30, history.OK),
		read(1, 30, 31, 1),   // write 2 completed at 30, not before: Δ 20 from write 1, fresh
		read(2, 32, 33, 1),   // Δ 2, stale
		read(3, 38, 39, 2),   // Δ 8, fresh
		read(4, 100, 101, 2), // Δ 70, fresh
	)
	got := checkStaleness(ops)
	want := []VisibilityPoint{
		{0, 4, 0.75}, {1, 4, 0.75}, {5, 3, 1}, {10, 2, 1}, {50, 1, 1}, {100, 0, 0}, {500, 0, 0}, {1000, 0, 0},
	}
	if !reflect.DeepEqual(got.Visibility, want) {
		t.Errorf("visibility\n got %+v\nwant %+v", got.Visibility, want)
	}
}
