package results

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/quorumlab/quorumlab/history"
)

func TestDescribeFault(t *testing.T) {
	tests := []struct {
		kind, value, want string
	}{
		{"partition", `{"shape":"halves","grudge":{"n1":["n3","n4","n5"],"n2":["n3","n4","n5"],"n3":["n1","n2"],"n4":["n1","n2"],"n5":["n1","n2"]}}`, "halves: n1, n2 | n3, n4, n5"},
		{"partition", `{"shape":"bridge","grudge":{"n2":["n3"],"n3":["n2"]}}`, "bridge: cut n2–n3"},
		{"partition", `{"shape":"isolate-one","grudge":{"n2":["n1","n3"],"n1":["n2"],"n3":["n2"]}}`, "isolate-one: n1, n3 | n2"},
		{"kill", `{"nodes":["n2"],"targets":"one"}`, "n2 (one)"},
		{"clock", `{"offsets":{"n3":"-1.5s","n1":"2s"},"targets":"minority"}`, "n1 +2s, n3 -1.5s (minority)"},
		{"loss", `{"nodes":["n1","n2"],"rate":0.3}`, "30 % of packets dropped on n1, n2"},
		{"membership", `{"op":"join","node":"n6"}`, `{"op":"join","node":"n6"}`},
		{"odd", `[1,2]`, `[1,2]`},
	}
	for _, tt := range tests {
		if got := describeFault(json.RawMessage(tt.value), []string{"n1", "n2", "n3"}); got != tt.want {
			t.Errorf("describeFault(%s, %s) = %q, want %q", tt.kind, tt.value, got, tt.want)
		}
	}
}

func TestTimelineChart(t *testing.T) {
	faults := []history.Fault{
		{Kind: "kill", Start: 1e9, End: 2e9, Value: json.RawMessage(`{"nodes":["n2"],"targets":"one"}`)},
		{Kind: "partition", Start: 3e9, End: 4e9, Value: json.RawMessage(`{"grudge":{"n1":["n10"],"n10":["n1"]}}`)},
	}
	ch := timelineChart(faults, []string{"n1", "n2", "n3", "n10"}, 5)
	if ch == nil || ch.Err != "" || !strings.Contains(string(ch.SVG), "<svg") {
		t.Fatalf("timeline: %+v", ch)
	}
	// Lane labels in node order, n10 last.
	s := string(ch.SVG)
	if i, j := strings.Index(s, ">n2<"), strings.Index(s, ">n10<"); i < 0 || j < 0 {
		t.Errorf("lane labels missing")
	}
	if got := faultNodes(faults[1].Value); len(got) != 2 {
		t.Errorf("partition hit %v, want n1 and n10", got)
	}
	if timelineChart([]history.Fault{{Kind: "partition", Value: json.RawMessage(`{}`)}}, []string{"n1"}, 5) != nil {
		t.Error("a chart for faults that name no node")
	}
	names := []string{"n10", "n2", "n1"}
	slices.SortFunc(names, byNodeName)
	if !slices.Equal(names, []string{"n1", "n2", "n10"}) {
		t.Errorf("node order %v", names)
	}
}
