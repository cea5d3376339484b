package quorum

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		nodes, n, w, r int
		lin            bool
		want           string // substring of the error, "" for none
	}{
		{5, 3, 2, 2, true, ""},
		{5, 3, 1, 1, false, ""},
		{5, 3, 1, 1, true, "W + R > N"},
		{5, 3, 2, 1, true, "W + R > N"},
		{2, 3, 2, 2, false, "number of nodes (2)"},
		{0, 7, 4, 4, true, ""},
		{0, 0, 1, 1, false, "N=0"},
		{5, 3, 4, 1, false, "W=4 R=1"},
		{5, 3, 1, 0, false, "W=1 R=0"},
	}
	for _, tt := range tests {
		err := Validate(tt.nodes, tt.n, tt.w, tt.r, tt.lin)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Validate(%d, N%d W%d R%d, lin %v) = %v, want %q", tt.nodes, tt.n, tt.w, tt.r, tt.lin, err, tt.want)
		}
	}
}
