package results

import (
	"bytes"
	"strings"
	"testing"

	"github.com/quorumlab/quorumlab/checker"
)

func TestSummaryAvailability(t *testing.T) {
	tests := []struct {
		name   string
		faulty checker.AvailabilityCounts
		want   string
	}{
		{"no faults", checker.AvailabilityCounts{}, "healthy 90.0% ok, no operation under faults"},
		{"faults", checker.AvailabilityCounts{OK: 1, Fail: 3, Share: 0.25}, "healthy 90.0% ok, under faults 25.0% ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res checker.Results
			res.Verdict = checker.Valid
			res.Availability.Healthy = checker.AvailabilityCounts{OK: 9, Fail: 1, Share: 0.9}
			res.Availability.Faulty = tt.faulty
			var buf bytes.Buffer
			Summary(&buf, "/store/run", res)
			if !strings.Contains(buf.String(), tt.want) {
				t.Fatalf("summary lacks %q:\n%s", tt.want, buf.String())
			}
		})
	}
}
