// Package scaler applies an autoscale.Policy to a running kvnode cluster:
// it observes the nodes (kvnode status and Prometheus metrics), asks the
// policy, and has an Actuator add or remove nodes, one change at a time.
// How a node is started or stopped is the Actuator's: the harness's
// backends, or commands an operator gives (Exec).
package scaler

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/quorumlab/quorumlab/kvnode/autoscale"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

// Actuator makes the changes a policy decides.
type Actuator interface {
	// Add starts a node that joins the ring; it returns the node's id if
	// it knows it.
	Add(ctx context.Context) (string, error)
	// Remove decommissions node id, waits until it has left the ring, and
	// stops it.
	Remove(ctx context.Context, id string) error
}

// Event is what the controller reports: every observation (Decision with
// Action None and the loads) and every change, when it starts and ends.
type Event struct {
	Time     time.Time          `json:"-"`
	Phase    string             `json:"phase"` // observe, start, done, failed
	Decision autoscale.Decision `json:"decision"`
	Load     []autoscale.Load   `json:"load,omitempty"`
	// Node is the node a change added or removed.
	Node  string `json:"node,omitempty"`
	Error string `json:"error,omitempty"`
}

// Event phases.
const (
	Observed = "observe"
	Started  = "start"
	Done     = "done"
	Failed   = "failed"
)

// ChangeTimeout bounds one ring change (a join, or a decommission and
// its data streaming).
const ChangeTimeout = 2 * time.Minute

// Run observes every cfg.Interval until ctx ends and applies the policy's
// decisions, reporting each Event to report (called from this goroutine).
// A change runs to its end before the next observation; a failed one is
// reported and the cooldown applies to it as to a successful one.
func Run(ctx context.Context, cfg autoscale.Config, obs *Observer, act Actuator, report func(Event)) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	p := autoscale.NewPolicy(cfg)
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		o, err := obs.Observe(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			report(Event{Time: time.Now(), Phase: Observed, Decision: autoscale.Decision{Reason: "no observation: " + err.Error()}})
			continue
		}
		d := p.Decide(o)
		report(Event{Time: o.Time, Phase: Observed, Decision: d, Load: o.Load})
		if d.Action == autoscale.None {
			continue
		}
		report(Event{Time: time.Now(), Phase: Started, Decision: d, Node: d.Node})
		// A change runs to its end even if ctx ends meanwhile: a
		// decommission cut short would leave a node half out of the ring.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ChangeTimeout)
		node := d.Node
		switch d.Action {
		case autoscale.Add:
			node, err = act.Add(actx)
		case autoscale.Remove:
			err = act.Remove(actx, d.Node)
		}
		cancel()
		e := Event{Time: time.Now(), Phase: Done, Decision: d, Node: node}
		if err != nil {
			e.Phase, e.Error = Failed, err.Error()
		}
		report(e)
		p.Changed(time.Now())
	}
}

// Observer samples a cluster's membership and load. It keeps each node's
// last counters, so a node's first observation has no load yet.
type Observer struct {
	// Seeds are client addresses of nodes to ask for the membership; the
	// first that answers is used.
	Seeds func() []string
	// Client dials them (timeouts, TLS, the admin token).
	Client client.Options
	// MetricsURL is where a member serves its Prometheus metrics.
	MetricsURL func(autoscale.Member) string
	// HTTP fetches the metrics (nil: a client with a 5 s timeout).
	HTTP *http.Client

	mu   sync.Mutex
	prev map[string]autoscale.Counters
}

// Observe returns the membership as the first answering seed sees it and
// the load of every alive ring member that served its metrics.
func (o *Observer) Observe(ctx context.Context) (autoscale.Observation, error) {
	members, err := o.members(ctx)
	if err != nil {
		return autoscale.Observation{}, err
	}
	out := autoscale.Observation{Time: time.Now(), Members: members}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.prev == nil {
		o.prev = map[string]autoscale.Counters{}
	}
	for _, m := range members {
		if !m.Alive || m.Ring != kvpb.StatusMember {
			delete(o.prev, m.ID)
			continue
		}
		cur, err := o.scrape(ctx, m)
		if err != nil {
			delete(o.prev, m.ID)
			continue
		}
		if prev, ok := o.prev[m.ID]; ok {
			if l, ok := autoscale.Rate(m.ID, prev, cur); ok {
				out.Load = append(out.Load, l)
			}
		}
		o.prev[m.ID] = cur
	}
	return out, nil
}

func (o *Observer) members(ctx context.Context) ([]autoscale.Member, error) {
	var errs []error
	for _, addr := range o.Seeds() {
		c, err := client.Dial(addr, o.Client)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st, err := c.Status(ctx)
		c.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		var ms []autoscale.Member
		for _, m := range st.GetMembers() {
			ms = append(ms, autoscale.Member{ID: m.GetId(), Addr: m.GetAddr(), Alive: m.GetState() == kvpb.StateAlive, Ring: m.GetRingStatus()})
		}
		return ms, nil
	}
	if len(errs) == 0 {
		return nil, errors.New("no seed to ask")
	}
	return nil, fmt.Errorf("no seed answered: %w", errors.Join(errs...))
}

func (o *Observer) scrape(ctx context.Context, m autoscale.Member) (autoscale.Counters, error) {
	hc := o.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.MetricsURL(m), nil)
	if err != nil {
		return autoscale.Counters{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return autoscale.Counters{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return autoscale.Counters{}, fmt.Errorf("metrics of %s: %s", m.ID, resp.Status)
	}
	return autoscale.ParseMetrics(resp.Body, time.Now())
}

// MetricsAt returns a MetricsURL that puts port on each member's host.
func MetricsAt(port string) func(autoscale.Member) string {
	return func(m autoscale.Member) string {
		host, _, err := net.SplitHostPort(m.Addr)
		if err != nil {
			host = m.Addr
		}
		return "http://" + net.JoinHostPort(host, port) + "/metrics"
	}
}

// Exec is an Actuator of shell commands, for operators: AddCmd starts a
// node that joins by itself (kvnode serve --ring-join); RemoveCmd stops
// node $KVNODE_NODE after the controller has decommissioned it through
// Admin. The last line AddCmd prints, if any, is taken as the new node's id.
type Exec struct {
	AddCmd, RemoveCmd string
	// Admin reaches a node's admin service by id, for the decommission.
	Admin func(ctx context.Context, id string) (*client.Client, error)
}

// Add runs AddCmd.
func (e Exec) Add(ctx context.Context) (string, error) {
	out, err := e.run(ctx, e.AddCmd, "")
	if err != nil {
		return "", err
	}
	lines := strings.Fields(strings.TrimSpace(out))
	if len(lines) == 0 {
		return "", nil
	}
	return lines[len(lines)-1], nil
}

// Remove decommissions id and then runs RemoveCmd.
func (e Exec) Remove(ctx context.Context, id string) error {
	c, err := e.Admin(ctx, id)
	if err != nil {
		return fmt.Errorf("decommission %s: %w", id, err)
	}
	err = c.Decommission(ctx)
	c.Close()
	if err != nil {
		return fmt.Errorf("decommission %s: %w", id, err)
	}
	_, err = e.run(ctx, e.RemoveCmd, id)
	return err
}

func (e Exec) run(ctx context.Context, command, node string) (string, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Env = append(os.Environ(), "KVNODE_NODE="+node)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%q: %w", command, err)
	}
	return string(out), nil
}
