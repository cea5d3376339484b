// Package nemesis injects faults into a cluster on a schedule and records
// each fault's start and stop in the history.
package nemesis

import (
	"context"
	"encoding/json"
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
	"github.com/quorumlab/quorumlab/internal/ctxtime"
)

// Fault kinds.
const (
	Partition = "partition"
	Kill      = "kill"
	Pause     = "pause"
	Loss      = "loss"
	Clock     = "clock"
	// Strobe flips a node's clock offset between 0 and a skew every
	// StrobePeriod while it lasts (Jepsen's clock strobe): timestamps that
	// jump back and forth, not one steady skew.
	Strobe = "strobe"
	// Delay holds every packet between nodes for Config.Delay (NFQUEUE:
	// this kernel has no tc netem). It needs a cluster.Delayer.
	Delay = "delay"
	// Power kills nodes and discards every write they had not fsynced, as
	// a power failure does (a kill leaves them in the page cache); its stop
	// restarts them. It needs a cluster.PowerCutter.
	Power = "power"
	// Membership changes the ring: it alternately adds a node (a spare
	// the cluster starts, or one decommissioned before) and decommissions
	// a member. Its stop undoes nothing: the next membership fault does.
	Membership = "membership"
)

// Kinds lists every fault kind.
var Kinds = []string{Partition, Kill, Pause, Loss, Delay, Clock, Strobe, Power, Membership, Replace}

// StrobePeriod is how often a strobe fault flips a clock.
const StrobePeriod = 50 * time.Millisecond

// clockKinds are the faults that set clock offsets.
func clockKind(kind string) bool { return kind == Clock || kind == Strobe }

// Partition shapes.
const (
	IsolateOne     = "isolate-one"
	Halves         = "halves"
	MajoritiesRing = "majorities-ring"
	Bridge         = "bridge"
)

// Shapes lists every partition shape.
var Shapes = []string{IsolateOne, Halves, MajoritiesRing, Bridge}

// Target sets: how many nodes a node fault (kill, pause, clock, strobe,
// power) takes.
const (
	TargetOne      = "one"
	TargetMinority = "minority"
	TargetMajority = "majority"
	TargetAll      = "all"
)

// TargetSets lists every target set; "" draws one of the first three.
var TargetSets = []string{TargetOne, TargetMinority, TargetMajority, TargetAll}

// Config is a fault schedule.
type Config struct {
	Faults []string
	// Interval is the mean time between a heal and the next fault, and the
	// mean length of a fault; each is drawn uniformly from ±50 % of it.
	Interval time.Duration
	// Shape is a partition shape, or "" for a random one each time.
	Shape string
	// Targets is a target set, or "" for one, a minority or a majority
	// drawn each time.
	Targets string
	// LossRate is the share of packets dropped by a loss fault.
	LossRate float64
	// Delay is how long a delay fault holds each packet.
	Delay time.Duration
	// Flap, if set, makes a partition come and go every Flap while the
	// fault lasts.
	Flap time.Duration
	// MaxSkew bounds clock offsets in both directions.
	MaxSkew time.Duration
	Seed    uint64
	// Overlap gives each kind a schedule of its own, so that faults of
	// different kinds overlap (as in Jepsen's combined nemesis). Faults on
	// nodes (kill, pause, clock, membership) still never share a node.
	// Without it one fault is active at a time.
	Overlap bool
}

// DefaultConfig partitions and kills every 10 s.
func DefaultConfig() Config {
	return Config{Faults: []string{Partition, Kill}, Interval: 10 * time.Second, LossRate: 0.3, Delay: 50 * time.Millisecond, MaxSkew: 5 * time.Second, Seed: 1}
}

// ParseFaults parses "partition,kill" or "none".
func ParseFaults(s string) ([]string, error) {
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(Kinds, f) {
			return nil, fmt.Errorf("unknown fault %q (want some of %s, or none)", f, strings.Join(Kinds, ","))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// Validate reports the first bad setting.
func (c Config) Validate() error {
	for _, f := range c.Faults {
		if !slices.Contains(Kinds, f) {
			return fmt.Errorf("unknown fault %q", f)
		}
	}
	if len(c.Faults) > 0 && c.Interval <= 0 {
		return fmt.Errorf("nemesis interval %v: must be positive", c.Interval)
	}
	if c.Shape != "" && !slices.Contains(Shapes, c.Shape) && !slices.Contains(RingShapes, c.Shape) {
		return fmt.Errorf("unknown partition shape %q (want %s)", c.Shape, strings.Join(slices.Concat(Shapes, RingShapes), ", "))
	}
	if c.Targets != "" && !slices.Contains(TargetSets, c.Targets) {
		return fmt.Errorf("unknown nemesis targets %q (want %s)", c.Targets, strings.Join(TargetSets, ", "))
	}
	if c.Flap < 0 {
		return fmt.Errorf("partition flap %v: must not be negative", c.Flap)
	}
	if slices.Contains(c.Faults, Delay) && c.Delay <= 0 {
		return fmt.Errorf("packet delay %v: must be positive", c.Delay)
	}
	if c.LossRate < 0 || c.LossRate > 1 {
		return fmt.Errorf("loss rate %v: must be between 0 and 1", c.LossRate)
	}
	return nil
}

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

// healTimeout bounds the heal of one fault.
const healTimeout = 2 * time.Minute

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
		if f == Partition && slices.Contains(RingShapes, cfg.Shape) && (n.placement == nil || len(n.keys) == 0) {
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

// Run alternates healthy periods and faults until ctx ends; the caller then
// heals with Heal(ctx, history.FinalHeal). Without overlap one schedule deals
// every kind in rounds; with it each kind has a schedule of its own, with its
// own seeded timing. A fault that cannot be applied or undone is recorded
// and ends the run with an error.
func (n *Nemesis) Run(ctx context.Context) error {
	if len(n.cfg.Faults) == 0 {
		<-ctx.Done()
		return nil
	}
	if !n.cfg.Overlap {
		return n.cycle(ctx, n.cfg.Faults, rand.New(rand.NewPCG(n.cfg.Seed, 0)))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(n.cfg.Faults))
	var wg sync.WaitGroup
	for i, kind := range n.cfg.Faults {
		wg.Go(func() {
			errs[i] = n.cycle(ctx, []string{kind}, rand.New(rand.NewPCG(n.cfg.Seed, uint64(i+1))))
			if errs[i] != nil {
				cancel() // one failure ends every schedule
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// cycle alternates healthy periods and faults of the given kinds, dealt in
// rounds, until ctx ends. rng draws the kinds and the periods.
func (n *Nemesis) cycle(ctx context.Context, kinds []string, rng *rand.Rand) error {
	jitter := func() time.Duration {
		return n.cfg.Interval/2 + time.Duration(rng.Int64N(int64(n.cfg.Interval)+1))
	}
	var deck []string
	for {
		if !ctxtime.Sleep(ctx, jitter()) {
			return nil
		}
		var kind string
		kind, deck = deal(deck, kinds, rng)
		if ctx.Err() != nil {
			return nil
		}
		if err := n.start(ctx, kind); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if !ctxtime.Sleep(ctx, jitter()) {
			return nil
		}
		// A heal that has begun runs to its end, also if the run ends
		// meanwhile; the final heal comes after it.
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healTimeout)
		err := n.Heal(hctx, "stop-"+kind)
		cancel()
		if err != nil {
			return err
		}
	}
}

// deal draws the next fault from a shuffled deck of every configured kind,
// reshuffling when it is empty: the order is random, yet every kind occurs
// once per round, so a short run still exercises each requested fault.
func deal(deck, faults []string, rng *rand.Rand) (string, []string) {
	if len(deck) == 0 {
		deck = slices.Clone(faults)
		rng.Shuffle(len(deck), func(i, j int) { deck[i], deck[j] = deck[j], deck[i] })
	}
	return deck[0], deck[1:]
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

// targets picks one node, a minority or a majority of the cluster among the
// nodes no other node fault holds (as many as there are); none if all are
// held (n.mu held).
func (n *Nemesis) targets() ([]string, string) {
	all := n.ids()
	free := slices.DeleteFunc(slices.Clone(all), n.busy)
	if len(free) == 0 {
		return nil, ""
	}
	n.rng.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
	how := n.cfg.Targets
	if how == "" {
		how = TargetSets[n.rng.IntN(3)]
	}
	size := map[string]int{TargetOne: 1, TargetMinority: max(1, (len(all)-1)/2),
		TargetMajority: len(all)/2 + 1, TargetAll: len(all)}[how]
	if size > len(free) {
		size, how = len(free), fmt.Sprintf("%s, cut to the %d free", how, len(free))
	}
	return free[:size], how
}

// plan chooses what a fault of kind does and reserves it in n.active; nil
// if no node is free for it.
func (n *Nemesis) plan(kind string, aimed *aimInfo) (*fault, map[string]any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	f := &fault{kind: kind}
	var value map[string]any
	switch kind {
	case Partition:
		if aimed != nil {
			v, ok := n.planAimed(f, aimed)
			if !ok {
				return nil, nil
			}
			value = v
			break
		}
		shapes := []string{n.cfg.Shape}
		if n.cfg.Shape == "" {
			shapes = slices.Clone(Shapes)
			n.rng.Shuffle(len(shapes), func(i, j int) { shapes[i], shapes[j] = shapes[j], shapes[i] })
		}
		// A shape that cuts nothing on this cluster (majorities-ring on
		// three nodes) is no fault: never scheduled, never shaded.
		for _, shape := range shapes {
			if g := Grudge(shape, n.ids(), n.rng); len(g) > 0 {
				f.grudge = g
				value = map[string]any{"shape": shape, "grudge": g}
				break
			}
		}
		if f.grudge == nil {
			return nil, nil
		}
	case Loss:
		f.nodes = n.ids()
		value = map[string]any{"nodes": f.nodes, "rate": n.cfg.LossRate}
	case Delay:
		f.nodes = n.ids()
		value = map[string]any{"nodes": f.nodes, "delay": n.cfg.Delay.String()}
	case Kill, Pause, Clock, Strobe, Power:
		nodes, how := n.targets()
		if len(nodes) == 0 {
			return nil, nil
		}
		f.nodes = nodes
		value = map[string]any{"nodes": nodes, "targets": how}
		if clockKind(kind) {
			f.offsets = map[string]time.Duration{}
			shown := map[string]string{}
			for _, id := range nodes {
				skew := time.Duration(n.rng.Int64N(2*int64(n.cfg.MaxSkew)+1)) - n.cfg.MaxSkew
				f.offsets[id], shown[id] = skew, skew.String()
			}
			value = map[string]any{"offsets": shown, "targets": how}
			if kind == Strobe {
				value["period"] = StrobePeriod.String()
			}
		}
	}
	n.active[kind] = f
	n.summarize()
	return f, value
}

func (n *Nemesis) start(ctx context.Context, kind string) error {
	switch kind {
	case Membership:
		return n.changeRing(ctx)
	case Replace:
		return n.replace(ctx)
	}
	var aimed *aimInfo
	if kind == Partition {
		var err error
		if aimed, err = n.aim(ctx); err != nil {
			n.record("skip-"+kind, map[string]any{"reason": err.Error()}, err)
			return nil // the nodes may be down; the next turn tries again
		}
	}
	f, value := n.plan(kind, aimed)
	if f == nil {
		reason := ""
		if kind == Partition {
			reason = "no partition shape cuts anything on this cluster"
		}
		n.skip(kind, reason)
		return nil
	}
	var err error
	switch kind {
	case Partition:
		if err = n.cl.Partition(ctx, f.grudge); err == nil && n.cfg.Flap > 0 {
			value["flap"] = n.cfg.Flap.String()
			n.flap(f)
		}
	case Loss:
		err = n.cl.Loss(ctx, f.nodes, n.cfg.LossRate)
	case Delay:
		err = n.cl.(cluster.Delayer).Delay(ctx, f.nodes, n.cfg.Delay)
	case Kill:
		for _, id := range f.nodes {
			err = errors.Join(err, n.cl.Kill(ctx, id))
		}
	case Pause:
		for _, id := range f.nodes {
			err = errors.Join(err, n.cl.Pause(ctx, id))
		}
	case Power:
		// One after another, as fast as kills go: what the first loses
		// cannot be repaired from the others before they go down too.
		lost := map[string]int64{}
		for _, id := range f.nodes {
			b, e := n.cl.(cluster.PowerCutter).PowerLoss(ctx, id)
			lost[id], err = b, errors.Join(err, e)
		}
		value["lost_bytes"] = lost
	case Clock:
		for _, id := range f.nodes {
			if e := n.admin.SetClockOffset(ctx, id, f.offsets[id]); e != nil {
				err = errors.Join(err, fmt.Errorf("clock of %s: %w", id, e))
			}
		}
	case Strobe:
		// The first flip is made here, so a clock that cannot be set is
		// this fault's error, not a silent no-op.
		for _, id := range f.nodes {
			if e := n.admin.SetClockOffset(ctx, id, f.offsets[id]); e != nil {
				err = errors.Join(err, fmt.Errorf("clock of %s: %w", id, e))
			}
		}
		n.strobe(f)
	}
	// Even if it failed the fault stays active: part of it may be in
	// effect, and the final heal undoes it.
	n.mu.Lock()
	n.summarize()
	n.mu.Unlock()
	n.record("start-"+kind, value, err)
	if err != nil {
		return fmt.Errorf("nemesis %s: %w", kind, err)
	}
	return nil
}

// Ring changes.
const (
	AddNode      = "add-node"     // a spare node starts and joins the ring
	Rejoin       = "join"         // a decommissioned node joins again
	Decommission = "decommission" // a member hands its data over and leaves
)

// nextRingChange picks the next membership change. The ring alternates
// between its initial size and one more: when it is at its initial size a
// node joins (one decommissioned before, else a new spare); otherwise a
// random member is decommissioned.
func nextRingChange(initial int, members, left []string, rng *rand.Rand) (action, node string) {
	if len(members) <= initial {
		if len(left) > 0 {
			return Rejoin, left[0]
		}
		return AddNode, ""
	}
	return Decommission, members[rng.IntN(len(members))]
}

// RingChange is a membership change as the history records it.
type RingChange struct{ Action, Node string }

// RingChanges returns the membership changes among a history's faults.
func RingChanges(faults []history.Fault) ([]RingChange, error) {
	var out []RingChange
	for _, f := range faults {
		if f.Kind != Membership {
			continue
		}
		var c RingChange
		if err := json.Unmarshal(f.Value, &c); err != nil {
			return nil, fmt.Errorf("membership fault at %d ns: %w", f.Start, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// planRingChange chooses the next membership change among nodes no other
// fault holds and reserves it; ok is false if there is none.
func (n *Nemesis) planRingChange() (f *fault, action, node string, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	members := slices.DeleteFunc(n.ids(), func(id string) bool { return slices.Contains(n.left, id) })
	action, node = nextRingChange(n.initial, members, n.left, n.rng)
	if action == Decommission && n.busy(node) {
		free := slices.DeleteFunc(members, n.busy)
		if len(free) == 0 {
			return nil, "", "", false
		}
		node = free[n.rng.IntN(len(free))]
	}
	if action == Rejoin && n.busy(node) {
		return nil, "", "", false // killed or paused: it cannot join now
	}
	f = &fault{kind: Membership}
	if node != "" {
		f.nodes = []string{node}
	}
	n.active[Membership] = f
	n.summarize()
	return f, action, node, true
}

// changeRing applies the next membership change. Its start is recorded
// before the ring changes, since that takes a while (data streams); a
// failure ends the fault at once.
func (n *Nemesis) changeRing(ctx context.Context) error {
	f, action, node, ok := n.planRingChange()
	if !ok {
		n.skip(Membership, "")
		return nil
	}
	readBack := n.coldKeys(ctx)
	var err error
	if action == AddNode {
		// The backend names the node: start it first (it is not in the
		// ring before it joins, which is the change recorded). Other faults
		// leave it alone until it is known, and then it is reserved.
		var added cluster.Node
		added, err = n.cl.(cluster.NodeAdder).AddNode(ctx)
		node = added.ID
		if err == nil {
			n.mu.Lock()
			n.known[node] = true
			f.nodes = []string{node}
			n.mu.Unlock()
		}
	}
	n.mu.Lock()
	n.summarize()
	n.mu.Unlock()
	value := map[string]any{"action": action, "node": node}
	n.record("start-"+Membership, value, nil)
	if err == nil {
		switch action {
		case AddNode, Rejoin:
			err = n.admin.Join(ctx, node)
		case Decommission:
			err = n.admin.Decommission(ctx, node)
		}
	}
	n.mu.Lock()
	switch {
	case err != nil:
		delete(n.active, Membership)
		n.summarize()
	case action == Rejoin:
		n.left = slices.DeleteFunc(n.left, func(id string) bool { return id == node })
	case action == Decommission:
		n.left = append(n.left, node)
	}
	n.mu.Unlock()
	if err != nil {
		n.record("stop-"+Membership, value, err)
		if node == "" {
			node = "(a spare node)"
		}
		return fmt.Errorf("nemesis membership %s %s: %w", action, node, err)
	}
	readBack(ctx)
	return nil
}

// Heal undoes an active fault and records f: "stop-<kind>" ends that kind's
// fault, history.FinalHeal every one. A fault whose undo fails stays active,
// so that the final heal tries again. The final heal also clears the
// network, resumes and starts every node and, if clock faults ran, resets
// every clock, whatever is believed active, so a run always ends healed.
func (n *Nemesis) Heal(ctx context.Context, f string) error {
	final := f == history.FinalHeal
	n.mu.Lock()
	var ending []*fault
	if final {
		for _, kind := range slices.Sorted(maps.Keys(n.active)) {
			ending = append(ending, n.active[kind])
		}
	} else if a := n.active[strings.TrimPrefix(f, "stop-")]; a != nil {
		ending = []*fault{a}
	}
	n.mu.Unlock()
	if len(ending) == 0 && !final {
		return nil
	}
	var err error
	var healed []map[string]any
	undone := make([]bool, len(ending))
	for i, a := range ending {
		healed = append(healed, map[string]any{"kind": a.kind, "nodes": a.nodes})
		e := n.undo(ctx, a)
		undone[i] = e == nil
		err = errors.Join(err, e)
	}
	if final {
		if n.cl.NetworkError() == nil {
			err = errors.Join(err, n.cl.HealNetwork(ctx))
		}
		// Every known node; not one whose addition failed half-way (it
		// would enter the ring during the final reads).
		n.mu.Lock()
		ids := n.ids()
		n.mu.Unlock()
		for _, id := range ids {
			err = errors.Join(err, n.cl.Resume(ctx, id), n.cl.Start(ctx, id))
		}
		if slices.ContainsFunc(n.cfg.Faults, clockKind) {
			for _, id := range ids {
				if e := n.admin.SetClockOffset(ctx, id, 0); e != nil {
					err = errors.Join(err, fmt.Errorf("reset clock of %s: %w", id, e))
				}
			}
		}
	}
	var value any
	switch {
	case len(healed) == 1:
		value = healed[0]
	case len(healed) > 1:
		value = healed
	}
	// Recorded while the nodes are still reserved, so that no other fault
	// can start on them before this one ends in the history. A stop whose
	// undo failed does not end the fault there: the final heal does.
	rf := f
	if !final && err != nil {
		rf = "heal-failed-" + strings.TrimPrefix(f, "stop-")
	}
	n.record(rf, value, err)
	n.mu.Lock()
	for i, a := range ending {
		if undone[i] || final {
			delete(n.active, a.kind)
		}
	}
	n.summarize()
	n.mu.Unlock()
	if err != nil {
		return fmt.Errorf("nemesis heal: %w", err)
	}
	return nil
}

// HealAll ends every fault with a final heal, and while that fails tries
// again every interval until it succeeds or ctx ends: a kill cancelled at
// the end of a run can race its restart, and a clock reset can meet a
// connection still backing off. Each attempt is recorded with its error.
func (n *Nemesis) HealAll(ctx context.Context, interval time.Duration) error {
	for {
		err := n.Heal(ctx, history.FinalHeal)
		if err == nil || !ctxtime.Sleep(ctx, interval) {
			return err
		}
	}
}

// undo ends one fault.
func (n *Nemesis) undo(ctx context.Context, a *fault) error {
	var err error
	if a.stopStrobe != nil {
		a.stopStrobe()
		<-a.strobed
	}
	switch a.kind {
	case Partition:
		err = n.cl.Partition(ctx, cluster.Grudge{})
	case Loss:
		err = n.cl.Loss(ctx, nil, 0)
	case Delay:
		err = n.cl.(cluster.Delayer).Delay(ctx, nil, 0)
	case Kill, Power:
		for _, id := range a.nodes {
			err = errors.Join(err, n.cl.Start(ctx, id))
		}
	case Pause:
		for _, id := range a.nodes {
			err = errors.Join(err, n.cl.Resume(ctx, id))
		}
	case Clock, Strobe:
		for _, id := range a.nodes {
			if e := n.admin.SetClockOffset(ctx, id, 0); e != nil {
				err = errors.Join(err, fmt.Errorf("reset clock of %s: %w", id, e))
			}
		}
	}
	return err
}

// strobe flips f's nodes' clocks between their skew and 0 every
// StrobePeriod until the fault is undone. A flip that fails is retried at
// the next one: the undo resets the clock regardless.
func (n *Nemesis) strobe(f *fault) {
	ctx, cancel := context.WithCancel(context.Background())
	f.stopStrobe, f.strobed = cancel, make(chan struct{})
	go func() {
		defer close(f.strobed)
		t := time.NewTicker(StrobePeriod)
		defer t.Stop()
		for on := false; ; on = !on { // start made the first flip
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for _, id := range f.nodes {
				off := time.Duration(0)
				if on {
					off = f.offsets[id]
				}
				fctx, done := context.WithTimeout(ctx, time.Second)
				_ = n.admin.SetClockOffset(fctx, id, off) // the undo resets it regardless
				done()
			}
		}
	}()
}

// flap takes f's partition away and puts it back every Config.Flap until
// the fault is undone: connections that come and go, so a transfer (a
// hint handoff, a join's stream) is cut short again and again. A flip that
// fails is retried at the next one; the undo heals regardless.
func (n *Nemesis) flap(f *fault) {
	ctx, cancel := context.WithCancel(context.Background())
	f.stopStrobe, f.strobed = cancel, make(chan struct{})
	go func() {
		defer close(f.strobed)
		t := time.NewTicker(n.cfg.Flap)
		defer t.Stop()
		holder := ""
		for cut := false; ; cut = !cut { // start made the first cut
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			fctx, done := context.WithTimeout(ctx, time.Second)
			h, hg := n.hintHolder(fctx)
			g := cluster.Grudge{} // a gap
			switch {
			case cut && h != "":
				g = hg // cut short the delivery the last gap began
				if h != holder {
					n.record("flap-"+HintHolder, map[string]any{"node": h, "grudge": hg}, nil)
				}
				holder = h
			case cut, n.cfg.Shape == HintHolder && h == "":
				// No hints yet: keep the cut that makes them.
				g = f.grudge
			}
			_ = n.cl.Partition(fctx, g)
			done()
		}
	}()
}

// CutsNothing reports whether a partition of shape over nodes nodes would
// leave every node reaching every other.
func CutsNothing(shape string, nodes int) bool {
	ids := make([]string, nodes)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	return len(Grudge(shape, ids, rand.New(rand.NewPCG(1, 1)))) == 0
}

// Grudge builds a partition of the given shape over ids: for each node, the
// nodes whose packets it drops. Every grudge is symmetric.
func Grudge(shape string, ids []string, rng *rand.Rand) cluster.Grudge {
	ids = slices.Clone(ids)
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	g := cluster.Grudge{}
	cut := func(a, b []string) {
		for _, x := range a {
			for _, y := range b {
				g[x] = append(g[x], y)
				g[y] = append(g[y], x)
			}
		}
	}
	switch shape {
	case IsolateOne:
		cut(ids[:1], ids[1:])
	case Halves:
		h := len(ids) / 2
		cut(ids[:h], ids[h:])
	case Bridge:
		// Two halves that cannot talk, and one node that talks to both.
		h := (len(ids) - 1) / 2
		cut(ids[1:1+h], ids[1+h:])
	case MajoritiesRing:
		// Each node sees itself and its m nearest neighbours on each side of
		// a ring, a majority; no two nodes see the same majority. (With three
		// nodes everyone is a neighbour: no cut.)
		k := len(ids)
		m := (k / 2) / 2
		if (k/2)%2 == 1 {
			m++
		}
		for i, x := range ids {
			for j, y := range ids {
				if d := (j - i + k) % k; min(d, k-d) > m {
					g[x] = append(g[x], y)
				}
			}
		}
	}
	for k := range g {
		slices.Sort(g[k])
		g[k] = slices.Compact(g[k])
	}
	return g
}
