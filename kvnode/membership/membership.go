// Package membership runs SWIM gossip (hashicorp/memberlist) between nodes:
// who is alive, suspect or dead, each node's metadata, and an application
// state exchanged in full on every push/pull. It knows nothing of rings or
// keys; kvnode plugs its ring state in through a Delegate.
package membership

import (
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

// State is a member's liveness as this node sees it.
type State string

const (
	Alive State = kvpb.StateAlive
	// Suspect is for callers that combine gossip with another signal (see
	// State): memberlist does not report its suspicions.
	Suspect State = kvpb.StateSuspect
	// Dead covers memberlist's dead and left (a graceful leave).
	Dead State = kvpb.StateDead
)

// Config configures gossip. Start from DefaultConfig (a LAN) or
// DefaultLocalConfig (loopback, tests), as with memberlist.
type Config struct {
	// Name is the node's unique name (the kvnode id).
	Name string
	// BindAddr is the host:port gossip listens on, UDP and TCP.
	BindAddr string
	// AdvertiseAddr is the host:port other nodes reach this one at; empty
	// means BindAddr. It must be a specific IP: a FROM-scratch container has
	// no routing table for memberlist to guess one from.
	AdvertiseAddr string
	// Seeds are host:port gossip addresses to join at start and to rejoin
	// whenever they are not alive.
	Seeds []string

	ProbeInterval    time.Duration
	ProbeTimeout     time.Duration
	SuspicionMult    int
	GossipInterval   time.Duration
	PushPullInterval time.Duration
	// TCPTimeout bounds a push/pull (and so a join attempt).
	TCPTimeout time.Duration
	// GossipToTheDeadTime is how long dead nodes are still gossiped to.
	GossipToTheDeadTime time.Duration
	// RejoinInterval is how often seeds and known nodes that are not alive
	// are joined again. memberlist stops contacting dead nodes after
	// GossipToTheDeadTime, so without this a long partition never heals
	// (hashicorp/memberlist#222). Zero disables it.
	RejoinInterval time.Duration
	// SecretKey, if set, encrypts and authenticates all gossip (AES, 16, 24
	// or 32 bytes): a node without it cannot join or be heard.
	SecretKey []byte

	Logger *slog.Logger
}

// DefaultConfig returns memberlist's LAN timings (1 s probes, 500 ms probe
// timeout, suspicion multiplier 4) and a 5 s rejoin interval.
func DefaultConfig() Config {
	lan := memberlist.DefaultLANConfig()
	return Config{
		ProbeInterval:       lan.ProbeInterval,
		ProbeTimeout:        lan.ProbeTimeout,
		SuspicionMult:       lan.SuspicionMult,
		GossipInterval:      lan.GossipInterval,
		PushPullInterval:    lan.PushPullInterval,
		TCPTimeout:          2 * time.Second, // a join of a partitioned seed gives up in time for the next
		GossipToTheDeadTime: lan.GossipToTheDeadTime,
		RejoinInterval:      5 * time.Second,
	}
}

// DefaultLocalConfig is tuned for nodes on one machine: failures are seen in
// about a second, and partitions heal within two.
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.SuspicionMult = 3
	c.GossipInterval = 50 * time.Millisecond
	c.PushPullInterval = 5 * time.Second
	c.TCPTimeout = time.Second
	c.GossipToTheDeadTime = 10 * time.Second
	c.RejoinInterval = time.Second
	return c
}

// Validate reports the first thing wrong.
func (c Config) Validate() error {
	if c.Name == "" {
		return errors.New("gossip: empty node name")
	}
	if _, _, err := splitHostPort(c.BindAddr); err != nil {
		return fmt.Errorf("gossip listen address %q: %w", c.BindAddr, err)
	}
	adv := c.advertise()
	ip, _, err := splitHostPort(adv)
	if err != nil {
		return fmt.Errorf("gossip advertise address %q: %w", adv, err)
	}
	if ip.IsUnspecified() {
		return fmt.Errorf("gossip advertise address %q: must be a specific IP (set the advertise address)", adv)
	}
	for _, s := range c.Seeds {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("gossip seed %q: %w", s, err)
		}
	}
	if c.ProbeInterval <= 0 || c.ProbeTimeout <= 0 || c.GossipInterval <= 0 || c.PushPullInterval <= 0 || c.TCPTimeout <= 0 {
		return errors.New("gossip: probe interval and timeout, gossip and push/pull intervals and TCP timeout must be positive")
	}
	if c.SuspicionMult < 1 {
		return fmt.Errorf("gossip: suspicion multiplier %d: must be at least 1", c.SuspicionMult)
	}
	switch len(c.SecretKey) {
	case 0, 16, 24, 32:
	default:
		return fmt.Errorf("gossip: secret key of %d bytes: want 16, 24 or 32", len(c.SecretKey))
	}
	return nil
}

func (c Config) advertise() string {
	if c.AdvertiseAddr != "" {
		return c.AdvertiseAddr
	}
	return c.BindAddr
}

func splitHostPort(hp string) (net.IP, int, error) {
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return nil, 0, err
	}
	ip := net.ParseIP(h)
	if ip == nil {
		return nil, 0, fmt.Errorf("%q is not an IP address", h)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return nil, 0, fmt.Errorf("bad port %q", p)
	}
	return ip, port, nil
}

// Delegate is the application side of gossip. memberlist calls it from its
// own goroutines, some with its locks held: implementations must not block
// and must not call back into the Membership.
type Delegate interface {
	// Meta is this node's metadata (at most 512 bytes), sent with every
	// alive message.
	Meta() []byte
	// LocalState is the application state sent on a push/pull.
	LocalState() []byte
	// MergeRemoteState merges a peer's LocalState.
	MergeRemoteState(buf []byte)
	// NotifyMember reports a member whose state or metadata changed.
	NotifyMember(Member)
}

// Member is one node as gossip knows it.
type Member struct {
	Name  string
	Addr  string // gossip host:port
	State State
	Meta  []byte
}

// Membership is a running gossip member.
type Membership struct {
	cfg Config
	log *slog.Logger
	ml  *memberlist.Memberlist
	// metaMu serializes UpdateNode: memberlist reads its own node's state
	// there without its lock, racing a concurrent UpdateNode.
	metaMu sync.Mutex

	// nodes is every node seen, as of memberlist's last event about it.
	// memberlist's own Node values change under its lock, so they are
	// copied in the event callbacks rather than read later.
	mu     sync.Mutex
	nodes  map[string]Member
	nudged map[string]time.Time // last Nudge per node
	closed bool                 // no goroutine starts once set

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// Start binds the gossip ports, joins the seeds (a failure to reach any is
// not an error: rejoining goes on in the background) and starts rejoining.
func Start(cfg Config, d Delegate) (*Membership, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Membership{
		cfg: cfg, log: cfg.Logger,
		nodes: map[string]Member{}, nudged: map[string]time.Time{},
		stop: make(chan struct{}),
	}
	bindIP, bindPort, _ := splitHostPort(cfg.BindAddr)
	advIP, advPort, _ := splitHostPort(cfg.advertise())
	stdlog := log.New(&slogWriter{log: cfg.Logger.With("component", "memberlist")}, "", 0)
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{bindIP.String()}, BindPort: bindPort, Logger: stdlog,
	})
	if err != nil {
		return nil, fmt.Errorf("gossip listen %s: %w", cfg.BindAddr, err)
	}
	var local net.IP
	if !bindIP.IsUnspecified() {
		local = bindIP
	}
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	mc.Transport = &transport{NetTransport: nt, local: local}
	mc.AdvertiseAddr, mc.AdvertisePort = advIP.String(), advPort
	mc.ProbeInterval, mc.ProbeTimeout = cfg.ProbeInterval, cfg.ProbeTimeout
	mc.SuspicionMult = cfg.SuspicionMult
	mc.GossipInterval, mc.PushPullInterval = cfg.GossipInterval, cfg.PushPullInterval
	mc.TCPTimeout = cfg.TCPTimeout
	mc.GossipToTheDeadTime = cfg.GossipToTheDeadTime
	// memberlist verifies incoming and encrypts outgoing gossip by default
	// once a key is set.
	mc.SecretKey = cfg.SecretKey
	mc.Logger = stdlog
	mc.Delegate = &delegate{d: d}
	mc.Events = &events{m: m, d: d}
	ml, err := memberlist.Create(mc)
	if err != nil {
		nt.Shutdown()
		return nil, fmt.Errorf("gossip: %w", err)
	}
	m.ml = ml
	if seeds := m.others(cfg.Seeds); len(seeds) > 0 {
		if _, err := ml.Join(seeds); err != nil {
			m.log.Info("gossip: no seed reachable yet; rejoining in the background", "seeds", seeds, "err", err)
		}
	}
	if cfg.RejoinInterval > 0 {
		m.wg.Add(1)
		go m.rejoinLoop()
	}
	return m, nil
}

// others drops this node's own address from addrs.
func (m *Membership) others(addrs []string) []string {
	self := m.cfg.advertise()
	return slices.DeleteFunc(slices.Clone(addrs), func(a string) bool { return a == self })
}

// Join contacts the given gossip addresses; it returns how many answered.
func (m *Membership) Join(addrs []string) (int, error) {
	return m.ml.Join(m.others(addrs))
}

// rejoinLoop joins, every RejoinInterval, each seed and each node seen
// before that is not alive now, in parallel so one partitioned address does
// not hold up the others.
func (m *Membership) rejoinLoop() {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.RejoinInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		var wg sync.WaitGroup
		for _, a := range m.rejoinTargets() {
			wg.Go(func() {
				if _, err := m.ml.Join([]string{a}); err == nil {
					m.log.Debug("gossip: rejoined", "addr", a)
				}
			})
		}
		wg.Wait()
	}
}

// rejoinTargets returns the seeds and known addresses with no live member
// behind them.
func (m *Membership) rejoinTargets() []string {
	live := map[string]bool{}
	m.mu.Lock()
	cand := slices.Clone(m.cfg.Seeds)
	for _, n := range m.nodes {
		if n.State == Dead {
			cand = append(cand, n.Addr)
		} else {
			live[n.Addr] = true
		}
	}
	m.mu.Unlock()
	slices.Sort(cand)
	cand = slices.Compact(cand)
	return slices.DeleteFunc(m.others(cand), func(a string) bool { return live[a] })
}

// State returns what gossip last said of a node: Alive after it joined or
// came back, Dead after it failed or left; ok=false for a node never seen.
// memberlist raises no event on suspicion, so State never says Suspect.
func (m *Membership) State(name string) (State, bool) {
	if name == m.cfg.Name {
		return Alive, true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[name]
	return n.State, ok
}

// Dead reports whether gossip last said name failed or left.
func (m *Membership) Dead(name string) bool {
	st, ok := m.State(name)
	return ok && st == Dead
}

// Members returns every node seen (this one left out), by name.
func (m *Membership) Members() []Member {
	m.mu.Lock()
	out := make([]Member, 0, len(m.nodes))
	for _, n := range m.nodes {
		out = append(out, n)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Nudge rejoins a node gossip holds dead, at once and in the background,
// at most once per RejoinInterval (or second): for callers that see it
// reachable another way, e.g. a partition healed before the next rejoin.
func (m *Membership) Nudge(name string) {
	every := max(m.cfg.RejoinInterval, time.Second)
	m.mu.Lock()
	n, ok := m.nodes[name]
	due := ok && !m.closed && n.State == Dead && time.Since(m.nudged[name]) >= every
	if due {
		m.nudged[name] = time.Now()
		m.wg.Add(1)
	}
	m.mu.Unlock()
	if !due {
		return
	}
	go func() {
		defer m.wg.Done()
		if _, err := m.ml.Join([]string{n.Addr}); err == nil {
			m.log.Debug("gossip: rejoined on a nudge", "node", name, "addr", n.Addr)
		}
	}()
}

// AdvertiseAddr is the gossip address other nodes reach this one at.
func (m *Membership) AdvertiseAddr() string { return m.cfg.advertise() }

// UpdateMeta re-broadcasts this node's metadata (after Meta changed).
func (m *Membership) UpdateMeta(timeout time.Duration) error {
	m.metaMu.Lock()
	defer m.metaMu.Unlock()
	return m.ml.UpdateNode(timeout)
}

// Close leaves the cluster (if leave > 0, waiting that long for the leave
// to go out, so peers stop waiting for this node at once) and shuts down.
func (m *Membership) Close(leave time.Duration) error {
	var err error
	m.once.Do(func() {
		m.mu.Lock()
		m.closed = true
		m.mu.Unlock()
		close(m.stop)
		if leave > 0 {
			if lerr := m.ml.Leave(leave); lerr != nil {
				m.log.Debug("gossip: leave", "err", lerr)
			}
		}
		err = m.ml.Shutdown()
		m.wg.Wait()
	})
	return err
}

type delegate struct{ d Delegate }

func (d *delegate) NodeMeta(limit int) []byte {
	b := d.d.Meta()
	if len(b) > limit {
		return nil // memberlist panics on oversized metadata
	}
	return b
}
func (d *delegate) NotifyMsg([]byte)                    {}
func (d *delegate) GetBroadcasts(int, int) [][]byte     { return nil }
func (d *delegate) LocalState(bool) []byte              { return d.d.LocalState() }
func (d *delegate) MergeRemoteState(buf []byte, _ bool) { d.d.MergeRemoteState(buf) }

// events keeps the per-node state memberlist reports and passes it on.
type events struct {
	m *Membership
	d Delegate
}

// note runs with memberlist's lock held: n is stable while it copies it.
func (e *events) note(n *memberlist.Node, st State) {
	if n.Name == e.m.cfg.Name {
		return
	}
	mem := Member{Name: n.Name, Addr: n.Address(), State: st, Meta: slices.Clone(n.Meta)}
	e.m.mu.Lock()
	e.m.nodes[n.Name] = mem
	e.m.mu.Unlock()
	e.d.NotifyMember(mem)
}

func (e *events) NotifyJoin(n *memberlist.Node)   { e.note(n, Alive) }
func (e *events) NotifyLeave(n *memberlist.Node)  { e.note(n, Dead) }
func (e *events) NotifyUpdate(n *memberlist.Node) { e.note(n, Alive) }

// transport dials from the node's own IP, so that network faults keyed on
// (source, destination) see gossip streams as node-to-node traffic; UDP
// already leaves from the bound socket.
type transport struct {
	*memberlist.NetTransport
	local net.IP
}

func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (t *transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	if t.local != nil {
		d.LocalAddr = &net.TCPAddr{IP: t.local}
	}
	return d.Dial("tcp", a.Addr)
}
