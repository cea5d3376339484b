package sysmem

import (
	"bufio"
	"strings"
	"testing"
)

func TestMemTotal(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
		err      bool
	}{
		{"kB", "MemFree: 1 kB\nMemTotal:       24578220 kB\n", 24578220 << 10, false},
		{"missing", "MemFree: 1 kB\n", 0, true},
		{"garbage", "MemTotal: x kB\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := memTotal(bufio.NewScanner(strings.NewReader(tt.in)))
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("memTotal = %d, %v; want %d, error %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestTotal(t *testing.T) {
	got, err := Total()
	if err != nil || got < 64<<20 {
		t.Fatalf("Total = %d, %v", got, err)
	}
}
