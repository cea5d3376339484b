package workload

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quorumlab/quorumlab/internal/ctxtime"
)

// Phase is a stretch of an open-loop run at one total rate.
type Phase struct {
	Rate float64       `json:"rate"` // ops/s across all clients
	For  time.Duration `json:"for"`
}

// ParseProfile reads a rate profile, "500:30s,4000:60s,500:30s": rate:duration
// phases in order.
func ParseProfile(s string) ([]Phase, error) {
	var out []Phase
	for _, part := range strings.Split(s, ",") {
		r, d, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("rate profile %q: %q is not rate:duration", s, part)
		}
		rate, err := strconv.ParseFloat(r, 64)
		if err != nil || !(rate > 0) {
			return nil, fmt.Errorf("rate profile %q: rate %q must be a positive number of ops/s", s, r)
		}
		dur, err := time.ParseDuration(d)
		if err != nil || dur <= 0 {
			return nil, fmt.Errorf("rate profile %q: duration %q must be positive", s, d)
		}
		out = append(out, Phase{Rate: rate, For: dur})
	}
	return out, nil
}

// ProfileLength is how long a profile runs.
func ProfileLength(phases []Phase) time.Duration {
	var total time.Duration
	for _, p := range phases {
		total += p.For
	}
	return total
}

// phases is the run's rate over time: the profile, or Rate (0: closed loop)
// for the whole time limit.
func (c Config) phases() []Phase {
	if len(c.RateProfile) > 0 {
		return c.RateProfile
	}
	return []Phase{{Rate: c.Rate, For: c.TimeLimit}}
}

// pacer hands out start times at the phases' total rates (open loop), or
// lets clients go at once (closed loop, rate 0). Each open-loop client
// takes the next slot and sleeps until it; a client that falls behind
// starts at once, so the schedule, not the server, sets the pace. Slots are
// times on the history's clock: a slot is its operation's intended start.
//
// Nothing starts at or past the end of the run, judged by the clock, not
// by the run's context, whose deadline timer can fire late on a loaded
// machine. Overdue slots still pending at the end are dropped, so the
// corrected latency of a stall that lasts until the end is under-reported.
type pacer struct {
	now        func() int64
	start, end int64
	phases     []Phase
	// first[i] is the number of slots before phase i.
	first []float64
	next  atomic.Int64
}

// newPacer starts the schedule now; the run ends after the phases.
func newPacer(phases []Phase, now func() int64) *pacer {
	start := now()
	p := &pacer{now: now, start: start, end: start + int64(ProfileLength(phases)), phases: phases}
	slots := 0.0
	for _, ph := range phases {
		p.first = append(p.first, slots)
		slots += max(ph.Rate, 0) * ph.For.Seconds()
	}
	return p
}

// closed reports whether the run is a closed loop.
func (p *pacer) closed() bool { return len(p.phases) == 1 && p.phases[0].Rate <= 0 }

// slot is the time of slot k; ok is false past the last phase.
func (p *pacer) slot(k int64) (int64, bool) {
	at := p.start
	for i, ph := range p.phases {
		n := max(ph.Rate, 0) * ph.For.Seconds()
		if float64(k) < p.first[i]+n {
			return max(at+int64((float64(k)-p.first[i])*1e9/ph.Rate), 1), true // 0 would mean none
		}
		at += int64(ph.For)
	}
	return 0, false
}

// wait blocks until the caller's next slot and returns the slot: the
// operation's intended start time, or 0 in a closed loop. It returns false
// once the run is over or ctx is done.
func (p *pacer) wait(ctx context.Context) (int64, bool) {
	if ctx.Err() != nil || p.now() >= p.end {
		return 0, false
	}
	if p.closed() {
		return 0, true
	}
	at, ok := p.slot(p.next.Add(1) - 1)
	if !ok || at >= p.end {
		return 0, false
	}
	// A slot due as the run ends is not issued (the timer and ctx can fire
	// together, and select then picks either).
	if !ctxtime.Sleep(ctx, time.Duration(at-p.now())) || ctx.Err() != nil || p.now() >= p.end {
		return 0, false
	}
	return at, true
}
