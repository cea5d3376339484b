package checker

import (
	"github.com/quorumlab/quorumlab/history"
)

// Stats counts client operations by f and outcome.
type Stats struct {
	Ops           []OpStats `json:"ops"` // one per f, sorted by f
	Total         OpStats   `json:"total"`
	NemesisEvents int       `json:"nemesis_events"`
	Error         string    `json:"error,omitempty"`
}

// OpStats counts the operations of one f (all of them, in Stats.Total).
type OpStats struct {
	F       string `json:"f,omitempty"`
	Invoked int    `json:"invoked"`
	OK      int    `json:"ok"`
	Fail    int    `json:"fail"`
	// Info counts indeterminate operations, including the Incomplete ones
	// that never completed.
	Info       int `json:"info"`
	Incomplete int `json:"incomplete"`
}

// stats counts the operations in ops, whose pairing is pairs.
func stats(ops []history.Op, pairs []history.Pairing) Stats {
	var s Stats
	for _, op := range ops {
		if op.IsNemesis() {
			s.NemesisEvents++
		}
	}
	byF := make(map[string]*OpStats)
	for _, p := range pairs {
		st := byF[p.Invoke.F]
		if st == nil {
			st = &OpStats{F: p.Invoke.F}
			byF[p.Invoke.F] = st
		}
		for _, c := range []*OpStats{st, &s.Total} {
			c.Invoked++
			switch p.Completion.Type {
			case history.OK:
				c.OK++
			case history.Fail:
				c.Fail++
			default:
				c.Info++
				if !p.Completed() {
					c.Incomplete++
				}
			}
		}
	}
	for _, f := range sortedKeys(byF) {
		s.Ops = append(s.Ops, *byF[f])
	}
	return s
}
