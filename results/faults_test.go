package results

import (
	"encoding/json"
	"testing"
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
