package checker

import (
	"sort"

	"github.com/quorumlab/quorumlab/history"
)

// Availability is the share of completed client operations that were ok,
// split by whether a fault was active when each was invoked.
type Availability struct {
	Faulty  AvailabilityCounts `json:"faulty"`
	Healthy AvailabilityCounts `json:"healthy"`
	Total   AvailabilityCounts `json:"total"`
	Error   string             `json:"error,omitempty"`
}

// AvailabilityCounts counts completed operations by outcome. Share is
// OK / (OK + Fail + Info), 0 when there were none.
type AvailabilityCounts struct {
	OK    int     `json:"ok"`
	Fail  int     `json:"fail"`
	Info  int     `json:"info"`
	Share float64 `json:"share"`
}

// availability measures availability in pairs. Operations that never
// completed are left out: the history cannot say what became of them.
func availability(pairs []history.Pairing, faults []history.Fault) Availability {
	active := faultyAt(faults)
	var a Availability
	for _, p := range pairs {
		if !p.Completed() {
			continue
		}
		c := &a.Healthy
		if active(p.Invoke.Time) {
			c = &a.Faulty
		}
		for _, c := range []*AvailabilityCounts{c, &a.Total} {
			switch p.Completion.Type {
			case history.OK:
				c.OK++
			case history.Fail:
				c.Fail++
			default:
				c.Info++
			}
		}
	}
	for _, c := range []*AvailabilityCounts{&a.Faulty, &a.Healthy, &a.Total} {
		c.Share = share(c.OK, c.OK+c.Fail+c.Info)
	}
	return a
}

// faultyAt returns whether any fault is active at a time: from its start,
// inclusive, to its end, exclusive.
func faultyAt(faults []history.Fault) func(t int64) bool {
	// Merge into disjoint sorted periods, for a binary search per query.
	type period struct{ start, end int64 }
	var ps []period
	for _, f := range faults { // sorted by start
		if n := len(ps); n > 0 && f.Start <= ps[n-1].end {
			ps[n-1].end = max(ps[n-1].end, f.End)
			continue
		}
		ps = append(ps, period{f.Start, f.End})
	}
	return func(t int64) bool {
		i := sort.Search(len(ps), func(i int) bool { return ps[i].end > t })
		return i < len(ps) && ps[i].start <= t
	}
}
