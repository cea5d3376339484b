package checker

import (
	"reflect"
	"testing"

	"github.com/quorumlab/quorumlab/history"
)

func TestSetCheck(t *testing.T) {
	const ok, fail, info = history.OK, history.Fail, history.Info
	setRead := func(proc int, start int64, es ...int64) []history.Op {
		return call(proc, history.FRead, nil, start, start+5, ok, history.Ints(es))
	}
	el := func(es ...int64) []SetElement {
		var out []SetElement
		for _, e := range es {
			out = append(out, SetElement{"k", e})
		}
		return out
	}
	del := func(proc int, start, end int64, outcome history.Type) []history.Op {
		return call(proc, history.FDelete, nil, start, end, outcome, nil)
	}
	strict := []history.Op{{Process: history.NemesisProcess, Type: history.Info, F: history.FModel,
		Value: history.JSON(history.Model{Set: history.ModelDeletesFinal})}}
	tests := []struct {
		name string
		ops  []history.Op
		want SetResult
	}{
		{"deleted stays gone", hist(strict,
			add(0, 1, 0, 10, ok), del(0, 20, 30, ok), add(0, 2, 40, 50, ok),
			setRead(9, 100, 2),
		), SetResult{Verdict: Valid, Attempted: 2, Acknowledged: 2, Deleted: 1}},
		{"resurrected under strict quorums", hist(strict,
			add(0, 1, 0, 10, ok), del(0, 20, 30, ok), add(0, 2, 40, 50, ok),
			setRead(9, 100, 1, 2),
		), SetResult{Verdict: Invalid, Attempted: 2, Acknowledged: 2, Deleted: 1, Resurrected: 1, ResurrectedExamples: el(1)}},
		{"resurrected under weak quorums is reported only", hist(
			add(0, 1, 0, 10, ok), del(0, 20, 30, ok),
			setRead(9, 100, 1),
		), SetResult{Verdict: Valid, Attempted: 1, Acknowledged: 1, Deleted: 1, Resurrected: 1, ResurrectedExamples: el(1),
			Note: "1 deleted elements came back; not judged, since the run did not claim deletes final (weak or sloppy quorums, lww under clock faults, or tombstones collected within the run): a stale read, or a replica that missed a delete whose tombstone is gone, may carry an element back"}},
		{"an add overlapping the delete may carry elements back", hist(strict,
			add(0, 1, 0, 10, ok), del(0, 20, 30, ok), add(1, 2, 25, 35, ok),
			setRead(9, 100, 1, 2),
		), SetResult{Verdict: Valid, Attempted: 2, Acknowledged: 2}},
		{"an indeterminate add overlaps every later delete", hist(strict,
			add(0, 1, 0, 10, ok), add(1, 2, 5, 6, info), del(0, 20, 30, ok),
			setRead(9, 100, 1, 2),
		), SetResult{Verdict: Valid, Attempted: 2, Acknowledged: 1, Recovered: 1, RecoveredExamples: el(2)}},
		{"a failed add overlaps nothing", hist(strict,
			add(0, 1, 0, 10, ok), add(1, 2, 15, 25, fail), del(0, 20, 30, ok),
			setRead(9, 100, 1),
		), SetResult{Verdict: Invalid, Attempted: 2, Acknowledged: 1, Deleted: 1, Resurrected: 1, ResurrectedExamples: el(1)}},
		{"an indeterminate delete may have removed it", hist(strict,
			add(0, 1, 0, 10, ok), del(0, 20, 30, info),
			setRead(9, 100),
		), SetResult{Verdict: Valid, Attempted: 1, Acknowledged: 1}},
		{"a delete done before the add began removes nothing", hist(strict,
			del(0, 0, 5, ok), add(0, 1, 10, 20, ok),
			setRead(9, 100),
		), SetResult{Verdict: Invalid, Attempted: 1, Acknowledged: 1, Lost: 1, LostExamples: el(1)}},
		{"a delete concurrent with the add may have removed it", hist(strict,
			add(0, 1, 10, 20, ok), del(1, 15, 25, ok),
			setRead(9, 100),
		), SetResult{Verdict: Valid, Attempted: 1, Acknowledged: 1}},
		{"all there", hist(
			add(0, 1, 0, 10, ok), add(1, 2, 0, 10, ok), add(2, 3, 0, 10, fail), add(3, 4, 0, 10, info),
			setRead(9, 100, 1, 2),
		), SetResult{Verdict: Valid, Attempted: 4, Acknowledged: 2}},
		{"lost", hist(
			add(0, 1, 0, 10, ok), add(1, 2, 0, 10, ok), add(2, 3, 0, 10, ok),
			setRead(9, 100, 2),
		), SetResult{Verdict: Invalid, Attempted: 3, Acknowledged: 3, Lost: 2, LostExamples: el(1, 3)}},
		{"lost from one of two final reads", hist(
			add(0, 1, 0, 10, ok),
			setRead(9, 100, 1), setRead(10, 100),
		), SetResult{Verdict: Invalid, Attempted: 1, Acknowledged: 1, Lost: 1, LostExamples: el(1)}},
		{"recovered", hist(
			add(0, 1, 0, 10, ok), add(1, 2, 0, 10, info), add(2, 3, 0, 0, ""),
			setRead(9, 100, 1, 2, 3),
		), SetResult{Verdict: Valid, Attempted: 3, Acknowledged: 1, Recovered: 2, RecoveredExamples: el(2, 3)}},
		{"unexpected", hist(
			add(0, 1, 0, 10, ok), add(1, 2, 0, 10, fail),
			setRead(9, 100, 1, 2, 99),
		), SetResult{Verdict: Invalid, Attempted: 2, Acknowledged: 1, Unexpected: 2, UnexpectedExamples: el(2, 99)}},
		{"no final read", hist(
			add(0, 1, 0, 10, ok),
		), SetResult{Verdict: Unknown, Attempted: 1, Acknowledged: 1}},
		{"read before the ack judges nothing", hist(
			add(0, 1, 0, 10, ok),
			setRead(9, 5),
		), SetResult{Verdict: Unknown, Attempted: 1, Acknowledged: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkSet(tt.ops); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SetCheck:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
