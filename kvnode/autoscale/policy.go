// Package autoscale decides when a kvnode cluster should grow or shrink.
// It is pure: the caller observes the cluster (membership and per-node
// load), feeds the observations to a Policy and applies its decisions, as
// etcd's raft leaves I/O to its caller.
package autoscale

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

// Action is what a decision asks for.
type Action string

// Actions.
const (
	None   Action = ""
	Add    Action = "add"    // start a node and let it join the ring
	Remove Action = "remove" // decommission Decision.Node, then stop it
)

// Config is a scaling policy's settings.
type Config struct {
	// Min and Max bound the ring's size. The policy never goes below N
	// either, whatever Min says.
	Min, Max int
	// N is the cluster's replication factor.
	N int
	// TargetOps is the client requests per second each node should
	// coordinate.
	TargetOps float64
	// UpAt and DownAt are shares of TargetOps: a node is added when the
	// mean load per node is above UpAt×TargetOps, and one is removed when
	// the load spread over one node fewer would stay below DownAt×TargetOps.
	// DownAt < UpAt is the hysteresis that keeps a removal from calling for
	// an addition.
	UpAt, DownAt float64
	// MaxP99 and MaxInFlight, when set, also call for a node: the highest
	// p99 of coordinated requests, or the mean requests in flight per node.
	MaxP99      time.Duration
	MaxInFlight float64
	// Sustain is how many observations in a row must call for the same
	// change before it is made, so one burst does not resize the ring.
	Sustain int
	// Cooldown follows every change, so that the load settles on the new
	// ring before the next decision.
	Cooldown time.Duration
	// Interval is how often the caller should observe.
	Interval time.Duration
}

// DefaultConfig is a policy for 3 to 7 nodes at 1500 requests/s per node.
func DefaultConfig() Config {
	return Config{Min: 3, Max: 7, N: 3, TargetOps: 1500, UpAt: 1, DownAt: 0.6,
		Sustain: 3, Cooldown: 10 * time.Second, Interval: 2 * time.Second}
}

// Validate reports the first bad setting.
func (c Config) Validate() error {
	switch {
	case c.N < 1:
		return fmt.Errorf("n=%d: need at least one replica", c.N)
	case c.Min < 1:
		return fmt.Errorf("min=%d: need at least one node", c.Min)
	case c.Max < max(c.Min, c.N):
		return fmt.Errorf("max=%d: below min=%d or N=%d", c.Max, c.Min, c.N)
	case !(c.TargetOps > 0):
		return fmt.Errorf("target-ops=%v: must be positive", c.TargetOps)
	case !(c.UpAt > 0) || !(c.DownAt >= 0) || c.DownAt >= c.UpAt:
		return fmt.Errorf("up=%v down=%v: need 0 ≤ down < up", c.UpAt, c.DownAt)
	case c.MaxP99 < 0 || c.MaxInFlight < 0:
		return errors.New("p99 and in-flight limits must not be negative")
	case c.Sustain < 1:
		return fmt.Errorf("sustain=%d: need at least one observation", c.Sustain)
	case c.Cooldown < 0:
		return fmt.Errorf("cooldown=%v: must not be negative", c.Cooldown)
	case c.Interval <= 0:
		return fmt.Errorf("interval=%v: must be positive", c.Interval)
	}
	return nil
}

// Floor is the fewest nodes the policy keeps.
func (c Config) Floor() int { return max(c.Min, c.N) }

// Member is a node as the cluster sees it.
type Member struct {
	ID    string
	Addr  string
	Alive bool
	// Ring is the member's ring status (member, joining, leaving; anything
	// else is outside the ring).
	Ring string
}

// Load is one node's load over the last observation interval.
type Load struct {
	Node     string        `json:"node"`
	Ops      float64       `json:"ops"`       // coordinated requests/s
	P99      time.Duration `json:"p99"`       // of those requests
	InFlight float64       `json:"in_flight"` // requests being coordinated
}

// Observation is the cluster at one moment.
type Observation struct {
	Time    time.Time
	Members []Member
	// Load has a sample per node that answered; a node without one is
	// down or was just added.
	Load []Load
}

// Decision is a policy's answer to an observation. With Action None,
// Reason says why nothing changes.
type Decision struct {
	Action Action `json:"action,omitempty"`
	Node   string `json:"node,omitempty"`
	Reason string `json:"reason"`
	// Metric, Value and Threshold are the figure behind an Add or Remove.
	Metric    string  `json:"metric,omitempty"`
	Value     float64 `json:"value,omitempty"`
	Threshold float64 `json:"threshold,omitempty"`
	// Nodes is the ring's size when decided.
	Nodes int `json:"nodes"`
}

// Policy turns observations into decisions. It keeps the counts behind
// Sustain and the time of the last change; it is not safe for concurrent
// use.
type Policy struct {
	cfg          Config
	above, below int
	last         time.Time
}

// NewPolicy returns a policy with cfg, which must be valid.
func NewPolicy(cfg Config) *Policy { return &Policy{cfg: cfg} }

// Changed tells the policy that a change ended at t (done or failed): the
// cooldown runs from there.
func (p *Policy) Changed(t time.Time) {
	p.last, p.above, p.below = t, 0, 0
}

// Decide returns what to do about o. It never asks for a change while one
// is in flight (a member joining or leaving), within the cooldown, below
// the floor or above Max, and never removes a node while any member is
// down (its replicas are the ones a decommission streams to).
func (p *Policy) Decide(o Observation) Decision {
	var ring []Member
	for _, m := range o.Members {
		if m.Ring == kvpb.StatusMember {
			ring = append(ring, m)
		}
	}
	n := len(ring)
	for _, m := range o.Members {
		if m.Ring == kvpb.StatusJoining || m.Ring == kvpb.StatusLeaving {
			p.above, p.below = 0, 0
			return Decision{Reason: fmt.Sprintf("%s is %s the ring: one change at a time", m.ID, m.Ring), Nodes: n}
		}
	}
	if n < p.cfg.Floor() {
		return Decision{Action: Add, Reason: fmt.Sprintf("%d ring members, below the floor of %d", n, p.cfg.Floor()),
			Metric: "nodes", Value: float64(n), Threshold: float64(p.cfg.Floor()), Nodes: n}
	}
	if !p.last.IsZero() && o.Time.Before(p.last.Add(p.cfg.Cooldown)) {
		p.above, p.below = 0, 0
		return Decision{Reason: "cooling down after the last change", Nodes: n}
	}
	loads := map[string]Load{}
	for _, l := range o.Load {
		loads[l.Node] = l
	}
	var total, inflight float64
	var p99 time.Duration
	var sampled, down int
	for _, m := range ring {
		l, ok := loads[m.ID]
		if !m.Alive {
			down++
		}
		if !ok || !m.Alive {
			continue
		}
		sampled++
		total += l.Ops
		inflight += l.InFlight
		p99 = max(p99, l.P99)
	}
	if sampled == 0 {
		p.above, p.below = 0, 0
		return Decision{Reason: "no load sample from any member", Nodes: n}
	}
	mean := total / float64(sampled)
	if metric, value, threshold, hot := p.hot(mean, inflight/float64(sampled), p99); hot {
		p.below = 0
		if n >= p.cfg.Max {
			p.above = 0
			return Decision{Reason: fmt.Sprintf("%s %.4g above %.4g, but already at max=%d", metric, value, threshold, p.cfg.Max), Nodes: n}
		}
		if p.above++; p.above < p.cfg.Sustain {
			return Decision{Reason: fmt.Sprintf("%s %.4g above %.4g (%d of %d observations)", metric, value, threshold, p.above, p.cfg.Sustain), Nodes: n}
		}
		p.above = 0
		return Decision{Action: Add, Reason: fmt.Sprintf("%s %.4g above %.4g for %d observations", metric, value, threshold, p.cfg.Sustain),
			Metric: metric, Value: value, Threshold: threshold, Nodes: n}
	}
	p.above = 0
	// The load spread over one node fewer, at the rate the sampled nodes see.
	threshold := p.cfg.DownAt * p.cfg.TargetOps
	if n <= p.cfg.Floor() || down > 0 {
		p.below = 0
		return Decision{Reason: p.steady(n, down), Nodes: n}
	}
	projected := mean * float64(n) / float64(n-1)
	if projected >= threshold {
		p.below = 0
		return Decision{Reason: fmt.Sprintf("ops/node %.4g within [%.4g, %.4g]", mean, threshold*float64(n-1)/float64(n), p.cfg.UpAt*p.cfg.TargetOps), Nodes: n}
	}
	if p.below++; p.below < p.cfg.Sustain {
		return Decision{Reason: fmt.Sprintf("ops/node with one node fewer %.4g below %.4g (%d of %d observations)", projected, threshold, p.below, p.cfg.Sustain), Nodes: n}
	}
	p.below = 0
	return Decision{Action: Remove, Node: newest(ring), Reason: fmt.Sprintf("ops/node with one node fewer %.4g below %.4g for %d observations", projected, threshold, p.cfg.Sustain),
		Metric: "ops/node with one fewer", Value: projected, Threshold: threshold, Nodes: n}
}

// hot reports the first load figure that calls for another node.
func (p *Policy) hot(ops, inflight float64, p99 time.Duration) (metric string, value, threshold float64, ok bool) {
	switch {
	case ops > p.cfg.UpAt*p.cfg.TargetOps:
		return "ops/node", ops, p.cfg.UpAt * p.cfg.TargetOps, true
	case p.cfg.MaxP99 > 0 && p99 > p.cfg.MaxP99:
		return "p99 ms", p99.Seconds() * 1e3, p.cfg.MaxP99.Seconds() * 1e3, true
	case p.cfg.MaxInFlight > 0 && inflight > p.cfg.MaxInFlight:
		return "in-flight/node", inflight, p.cfg.MaxInFlight, true
	}
	return "", 0, 0, false
}

func (p *Policy) steady(n, down int) string {
	if down > 0 {
		return fmt.Sprintf("%d member(s) down: no decommission until they are back", down)
	}
	return fmt.Sprintf("at the floor of %d nodes", n)
}

// newest is the member added last, by id number (n10 after n9): scaling in
// undoes scaling out first.
func newest(ring []Member) string {
	ids := make([]string, len(ring))
	for i, m := range ring {
		ids[i] = m.ID
	}
	slices.SortFunc(ids, func(a, b string) int {
		if c := len(a) - len(b); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return ids[len(ids)-1]
}

// ParseSpec reads a policy from "min=3,max=7,target-ops=1500" (other keys:
// up, down, p99, in-flight, sustain, cooldown, interval), starting from
// DefaultConfig with N set to n.
func ParseSpec(spec string, n int) (Config, error) {
	c := DefaultConfig()
	c.N = n
	for _, kv := range strings.Split(spec, ",") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return c, fmt.Errorf("autoscale %q: %q is not key=value", spec, kv)
		}
		var err error
		switch strings.TrimSpace(k) {
		case "min":
			c.Min, err = strconv.Atoi(v)
		case "max":
			c.Max, err = strconv.Atoi(v)
		case "target-ops":
			c.TargetOps, err = strconv.ParseFloat(v, 64)
		case "up":
			c.UpAt, err = strconv.ParseFloat(v, 64)
		case "down":
			c.DownAt, err = strconv.ParseFloat(v, 64)
		case "p99":
			c.MaxP99, err = time.ParseDuration(v)
		case "in-flight":
			c.MaxInFlight, err = strconv.ParseFloat(v, 64)
		case "sustain":
			c.Sustain, err = strconv.Atoi(v)
		case "cooldown":
			c.Cooldown, err = time.ParseDuration(v)
		case "interval":
			c.Interval, err = time.ParseDuration(v)
		default:
			return c, fmt.Errorf("autoscale %q: unknown key %q (want min, max, target-ops, up, down, p99, in-flight, sustain, cooldown, interval)", spec, k)
		}
		if err != nil {
			return c, fmt.Errorf("autoscale %s: %w", k, err)
		}
	}
	return c, c.Validate()
}
