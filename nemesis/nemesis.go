// Package nemesis injects faults into a cluster on a schedule and records
// each fault's start and stop in the history.
package nemesis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/history"
)

// Admin is the nodes' admin service, which the clock, membership and
// replace faults need.
type Admin interface {
	// SetClockOffset sets the offset the node adds to its clock.
	SetClockOffset(ctx context.Context, node string, offset time.Duration) error
	// Join makes the node enter the ring; it returns once it is a member.
	Join(ctx context.Context, node string) error
	// Decommission makes the node hand its data over and leave the ring; it
	// returns once it has left. The node keeps running.
	Decommission(ctx context.Context, node string) error
}

// Option configures a Nemesis.
type Option func(*Nemesis)

// Nemesis runs a schedule against a cluster: one fault at a time, or with
// Config.Overlap at most one of each kind.
type Nemesis struct {
	cfg   Config
	cl    cluster.Cluster
	admin Admin // nil: no clock, membership or replace faults
	rec   *history.Recorder

	// mu guards the fields below. It is never held during a call that acts
	// on the cluster or ring (only Nodes): with overlap, a slow ring change
	// must not hold back the heal of a fault it waits for.
	mu  sync.Mutex
	rng *rand.Rand // targets, shapes, offsets
	// replacer adds and retires nodes for the replace fault; original
	// are the nodes it has yet to replace.
	replacer Replacer
	original map[string]bool
	cold     ColdKeys // nil: no cold keys around ring changes
	// placement and keys serve the ring-aware partition shapes.
	placement Placement
	keys      []string
	// active holds each kind's fault from before it is applied until it is
	// undone, so that its nodes stay reserved (see busy) all that time.
	active map[string]*fault
	// known are the nodes faults may pick: the initial ones and those the
	// membership fault added (not one still being added).
	known map[string]bool
	// Ring membership as the membership fault left it: the ring's size at
	// the start, and the nodes it decommissioned (still running).
	initial int
	left    []string
	// summary describes active for Active, which must never wait.
	summary atomic.Pointer[string]
}

// fault is what must be undone.
type fault struct {
	kind    string
	nodes   []string
	grudge  cluster.Grudge
	offsets map[string]time.Duration
	// stopStrobe ends a strobe's or a flapping partition's flipping;
	// strobed is closed once it has.
	stopStrobe context.CancelFunc
	strobed    chan struct{}
}

// New checks that every requested fault can be applied on this cluster;
// admin may be nil if no fault needs it.
func New(cfg Config, cl cluster.Cluster, admin Admin, rec *history.Recorder, opts ...Option) (*Nemesis, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Nemesis{cfg: cfg, cl: cl, admin: admin, rec: rec, rng: rand.New(rand.NewPCG(cfg.Seed, 0x6e656d)),
		active: map[string]*fault{}, known: map[string]bool{}, original: map[string]bool{}, initial: len(cl.Nodes())}
	for _, nd := range cl.Nodes() {
		n.known[nd.ID] = true
		n.original[nd.ID] = true
	}
	for _, o := range opts {
		o(n)
	}
	for _, f := range cfg.Faults {
		if f == Partition || f == Loss || f == Delay {
			if err := cl.NetworkError(); err != nil {
				return nil, fmt.Errorf("fault %s: %w", f, err)
			}
		}
		if _, ok := cl.(cluster.Delayer); f == Delay && !ok {
			return nil, errors.New("fault delay: this backend cannot delay packets (the local backend can, with NFQUEUE)")
		}
		if clockKind(f) && admin == nil {
			return nil, errors.New("fault clock: needs the nodes' admin service")
		}
		if _, ok := cl.(cluster.PowerCutter); f == Power && !ok {
			return nil, errors.New("fault power: this backend cannot cut power (the local backend can, with its file system for power faults)")
		}
		if f == Membership || f == Replace {
			if admin == nil {
				return nil, fmt.Errorf("fault %s: needs the nodes' admin service", f)
			}
			if _, ok := cl.(cluster.NodeAdder); !ok {
				return nil, fmt.Errorf("fault %s: this backend cannot add nodes", f)
			}
		}
		if f == Partition && slices.Contains(RingShapes(), cfg.Shape) && (n.placement == nil || len(n.keys) == 0) {
			return nil, fmt.Errorf("partition shape %s: needs the workload's keys and where they live (kvnode, register or set workload)", cfg.Shape)
		}
		if f == Replace && n.replacer == nil {
			return nil, errors.New("fault replace: needs a replacer to add and retire nodes")
		}
	}
	return n, nil
}

// Active describes the active faults for progress output ("" if none).
func (n *Nemesis) Active() string {
	if s := n.summary.Load(); s != nil {
		return *s
	}
	return ""
}

// summarize updates what Active says (n.mu held).
func (n *Nemesis) summarize() {
	var out []string
	for _, kind := range slices.Sorted(maps.Keys(n.active)) {
		out = append(out, strings.TrimSpace(kind+" "+strings.Join(n.active[kind].nodes, ",")))
	}
	s := strings.Join(out, "; ")
	n.summary.Store(&s)
}

func (n *Nemesis) record(f string, value any, err error) {
	op := history.Op{Process: history.NemesisProcess, Type: history.Info, F: f, Value: history.JSON(value)}
	if err != nil {
		op.Error = err.Error()
	}
	n.rec.Record(op)
}

// skip records a fault that found nothing to act on.
func (n *Nemesis) skip(kind, reason string) {
	if reason == "" {
		reason = "every candidate node is under another fault"
	}
	n.record("skip-"+kind, map[string]any{"reason": reason}, nil)
}

// Adopt makes node id, added by someone else (an autoscaler), one that
// faults may pick.
func (n *Nemesis) Adopt(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.known[id] = true
}

// Release takes node id away from the faults, for someone else to
// decommission and stop: no fault picks it again and the final heal does
// not restart it. It returns false, and keeps the node, while a fault
// holds it.
func (n *Nemesis) Release(id string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.busy(id) {
		return false
	}
	delete(n.known, id)
	return true
}

// ids returns the known nodes in the cluster's order (n.mu held).
func (n *Nemesis) ids() []string {
	var ids []string
	for _, nd := range n.cl.Nodes() {
		if n.known[nd.ID] {
			ids = append(ids, nd.ID)
		}
	}
	return ids
}

// busy reports whether a node fault (kill, pause, clock, membership) holds
// node id: another must not pick it (n.mu held).
func (n *Nemesis) busy(id string) bool {
	for kind, f := range n.active {
		if kind != Partition && kind != Loss && kind != Delay && slices.Contains(f.nodes, id) {
			return true
		}
	}
	return false
}
