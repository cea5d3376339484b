package checker

import (
	"testing"

	"github.com/quorumlab/quorumlab/history"
)

func TestScaling(t *testing.T) {
	at := func(s float64, sc history.Scale) history.Op {
		return history.Op{Time: int64(s * 1e9), Process: history.NemesisProcess, Type: history.Info, F: history.FScale, Value: history.JSON(sc)}
	}
	load := func(vs ...float64) map[string]float64 {
		m := map[string]float64{}
		for i, v := range vs {
			m[string(rune('a'+i))] = v
		}
		return m
	}
	ops := []history.Op{
		at(1, history.Scale{Phase: "observe", Nodes: 3, Load: load(900, 900, 900)}),
		at(1, history.Scale{Phase: "start", Action: "add", Reason: "hot", Nodes: 3}),
		at(3, history.Scale{Phase: "done", Action: "add", Node: "n4", Nodes: 3}),
		at(4, history.Scale{Phase: "observe", Nodes: 4, Load: load(900, 900, 900)}), // n4 has no sample yet
		at(5, history.Scale{Phase: "observe", Nodes: 4, Load: load(675, 675, 675, 675)}),
		at(9, history.Scale{Phase: "start", Action: "remove", Node: "n4", Reason: "cold", Nodes: 4}),
		at(10, history.Scale{Phase: "failed", Action: "remove", Node: "n4", Error: "boom"}),
		at(11, history.Scale{Phase: "observe", Reason: "no observation"}),
	}
	s := scaling(ops)
	if s == nil || s.Adds != 1 || s.Removes != 0 || len(s.Changes) != 2 || len(s.Nodes) != 3 {
		t.Fatalf("got %+v", s)
	}
	add := s.Changes[0]
	if add.Node != "n4" || !add.OK || add.LoadBefore != 900 || add.NodesAfter != 4 || add.LoadAfter != 675 || add.End != 3 {
		t.Errorf("add: %+v", add)
	}
	if rm := s.Changes[1]; rm.OK || rm.Error != "boom" || rm.LoadBefore != 675 || rm.NodesAfter != 0 {
		t.Errorf("failed remove: %+v", rm)
	}
	if scaling(ops[:0]) != nil {
		t.Error("a history without an autoscaler has scaling results")
	}
}
