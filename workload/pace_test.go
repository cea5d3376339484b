package workload

import (
	"testing"
	"time"
)

func TestProfileSlots(t *testing.T) {
	// 10 ops/s for 1 s, then 100 ops/s for 0.5 s: 10 + 50 slots.
	p := newPacer([]Phase{{Rate: 10, For: time.Second}, {Rate: 100, For: 500 * time.Millisecond}}, func() int64 { return 0 })
	tests := []struct {
		k    int64
		at   int64
		more bool
	}{
		{0, 1, true}, // slot 0 is at the start, 1 ns in (0 means none)
		{9, 900e6, true},
		{10, 1e9, true},
		{11, 1.01e9, true},
		{59, 1.49e9, true},
		{60, 0, false},
	}
	for _, tt := range tests {
		at, ok := p.slot(tt.k)
		if ok != tt.more || (ok && at != tt.at) {
			t.Errorf("slot %d: %d %v, want %d %v", tt.k, at, ok, tt.at, tt.more)
		}
	}
	if p.end != int64(1500*time.Millisecond) {
		t.Errorf("end %d, want 1.5 s", p.end)
	}
}

func TestParseProfile(t *testing.T) {
	got, err := ParseProfile("500:30s, 4000:60s,500:30s")
	if err != nil || len(got) != 3 || got[1] != (Phase{Rate: 4000, For: time.Minute}) || ProfileLength(got) != 2*time.Minute {
		t.Fatalf("got %v %v", got, err)
	}
	for _, bad := range []string{"", "500", "0:10s", "-1:10s", "x:10s", "500:0s", "500:ten", "500:10s,"} {
		if _, err := ParseProfile(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	cfg := DefaultConfig()
	cfg.RateProfile, _ = ParseProfile("10:1s,20:2s")
	if err := cfg.Validate(); err == nil {
		t.Error("a profile with a time limit other than its length was accepted")
	}
	cfg.TimeLimit = 3 * time.Second
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
	cfg.Rate = 5
	if err := cfg.Validate(); err == nil {
		t.Error("a rate beside a profile was accepted")
	}
}
