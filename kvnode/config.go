package kvnode

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/membership"
	"github.com/quorumlab/quorumlab/kvnode/merkle"
	"github.com/quorumlab/quorumlab/kvnode/quorum"
	"github.com/quorumlab/quorumlab/kvnode/secure"
	"github.com/quorumlab/quorumlab/kvnode/vclock"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

// Limits on client input.
const (
	MaxKeyBytes          = 1024
	DefaultMaxValueBytes = 10 * 1024
	// DefaultMaxSiblings and DefaultMaxKeySetBytes keep a Get of one key
	// under 4 MiB, gRPC's default receive limit, even when the home
	// replicas each accepted a full set of concurrent siblings.
	DefaultMaxSiblings    = 32
	DefaultMaxKeySetBytes = 1 << 20
	DefaultRequestTimeout = time.Second
)

// Read repair settings.
const (
	ReadRepairAsync = "async"
	ReadRepairSync  = "sync"
	ReadRepairOff   = "off"
)

// Peer is one member of the static cluster membership.
type Peer struct {
	ID     string
	Addr   string
	Zone   string
	Weight int
}

// Config configures a node. Start from DefaultConfig.
type Config struct {
	ID string
	// Listen is the client API's address (KV, admin, health), host:port.
	Listen  string
	DataDir string
	// PeerListen is where the node-to-node services (replica reads and
	// writes, transfers, forwarded client calls) listen, as etcd's peer
	// port: clients never reach them there. Empty means DefaultPeerAddr of
	// Listen.
	PeerListen string
	// PeerAdvertise is the peer address other nodes dial; empty means the
	// peer listen address, which then must be a specific IP.
	PeerAdvertise string
	// Peers is the static membership: the whole cluster including this
	// node, each at its peer address. With Gossip set it is optional and
	// names the founding ring members.
	Peers []Peer
	// TLS, if set, turns on mutual TLS on both ports: the node shows its
	// certificate and accepts only clients and peers whose certificate the
	// CA signed; it dials peers the same way.
	TLS secure.Files
	// ClusterKey, if set, encrypts gossip (a node without it never becomes
	// a member) and, without TLS, authenticates peer calls.
	ClusterKey []byte
	// Gossip, if set, runs gossip membership (memberlist) and builds the ring
	// from the members that joined it; nil keeps the membership static.
	// Its Name is the node id and its Logger the node's.
	Gossip *membership.Config
	// Zone and Weight are this node's in gossip mode (0: its Peers entry's,
	// else 1).
	Zone   string
	Weight int
	// RingJoin makes a gossip node that is not in the ring join it at start.
	// A node that was decommissioned stays out until told to join.
	RingJoin bool

	// Sloppy enables sloppy quorums: writes and reads go to the first N
	// reachable nodes of the extended preference list, and stand-ins keep
	// hints for the home replicas they replace.
	Sloppy bool
	// HandoffInterval is how often hints are delivered and data this node no
	// longer owns is handed to its owners.
	HandoffInterval time.Duration
	// AntiEntropyInterval is how often each replica compares Merkle trees
	// with the replicas it shares ranges with; 0 disables anti-entropy.
	AntiEntropyInterval time.Duration
	// MerkleDepth is the depth of the anti-entropy trees (2^depth leaves).
	MerkleDepth int
	// TombstoneGrace is how long a deleted key's tombstone is kept before
	// it is collected, as Cassandra's gc_grace: every replica must learn of
	// the delete within it (hinted handoff, anti-entropy, read repair), or
	// one that missed it brings the value back. 0 keeps tombstones forever;
	// linearizable mode always keeps them, as a tombstone's tag orders the
	// writes after it.
	TombstoneGrace time.Duration
	// RecoverFromPeers moves a damaged store aside (<DataDir>.damaged-<unix
	// time>), starts empty and rebuilds this node's ranges from their other
	// replicas before serving them (static membership only).
	RecoverFromPeers bool

	N, W, R       int
	Mode          version.Mode
	VNodes        int
	ReadRepair    string
	Fsync         bool
	MaxValueBytes int
	// MaxSiblings and MaxKeySetBytes bound one key's versions in vclock
	// mode, so a key stays readable (a Get fits any client) and deletable:
	// a write that would grow the set past them is refused, not applied.
	MaxSiblings    int
	MaxKeySetBytes int
	// MaxInFlight bounds the client requests a node coordinates at once;
	// more are refused at once as not applied.
	MaxInFlight    int
	ClockTruncate  int
	RequestTimeout time.Duration

	// AdminToken enables the admin service; empty disables it.
	AdminToken string
	// MetricsListen serves Prometheus metrics on /metrics; empty disables it.
	MetricsListen string
	// Pprof adds Go's profiler (/debug/pprof/) to the metrics listener, so
	// a node under load can be profiled in place. Off by default: a CPU
	// profile costs the node while it runs.
	Pprof bool

	Logger *slog.Logger
}

// DefaultMaxInFlight sizes admission for this machine: a coordinated
// request mostly waits on replicas, so a few hundred per core keep the
// cores busy without letting queues outgrow the request timeout.
func DefaultMaxInFlight() int { return 256 * runtime.GOMAXPROCS(0) }

// DefaultConfig returns the settings a three-node cluster would use.
func DefaultConfig() Config {
	return Config{
		N: 3, W: 2, R: 2,
		Mode:           version.LWW,
		VNodes:         128,
		ReadRepair:     ReadRepairAsync,
		Fsync:          true,
		MaxValueBytes:  DefaultMaxValueBytes,
		MaxSiblings:    DefaultMaxSiblings,
		MaxKeySetBytes: DefaultMaxKeySetBytes,
		MaxInFlight:    DefaultMaxInFlight(),
		ClockTruncate:  vclock.DefaultTruncate,
		RequestTimeout: DefaultRequestTimeout,
		RingJoin:       true,

		HandoffInterval:     time.Second,
		AntiEntropyInterval: 10 * time.Second,
		MerkleDepth:         12,
		TombstoneGrace:      24 * time.Hour,
		Logger:              slog.Default(),
	}
}

// GossipPortOffset is what DefaultGossipAddr adds to the gRPC port.
const GossipPortOffset = 1000

// DefaultGossipAddr is the gossip address a node uses unless told: the
// gRPC address's host with the port plus GossipPortOffset (7001 → 8001).
func DefaultGossipAddr(grpcAddr string) (string, error) {
	h, p, err := net.SplitHostPort(grpcAddr)
	if err != nil {
		return "", err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port+GossipPortOffset > 65535 {
		return "", fmt.Errorf("address %q: no gossip port %s+%d", grpcAddr, p, GossipPortOffset)
	}
	return net.JoinHostPort(h, strconv.Itoa(port+GossipPortOffset)), nil
}

// PeerPortOffset is what DefaultPeerAddr adds to the client port.
const PeerPortOffset = 2000

// DefaultPeerAddr is the peer address a node uses unless told: the client
// address's host with the port plus PeerPortOffset (7001 → 9001); port 0
// (any free port) stays 0.
func DefaultPeerAddr(clientAddr string) (string, error) {
	h, p, err := net.SplitHostPort(clientAddr)
	if err != nil {
		return "", err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port+PeerPortOffset > 65535 {
		return "", fmt.Errorf("address %q: no peer port %s+%d", clientAddr, p, PeerPortOffset)
	}
	if port == 0 {
		return clientAddr, nil
	}
	return net.JoinHostPort(h, strconv.Itoa(port+PeerPortOffset)), nil
}

// peerListen is where the peer services listen.
func (c Config) peerListen() string {
	if c.PeerListen != "" {
		return c.PeerListen
	}
	a, _ := DefaultPeerAddr(c.Listen) // Validate checked it
	return a
}

// AdvertisedPeerAddr is the peer address other nodes dial.
func (c Config) AdvertisedPeerAddr() string { return c.advertise() }

func (c Config) advertise() string {
	if c.PeerAdvertise != "" {
		return c.PeerAdvertise
	}
	return c.peerListen()
}

// selfPeer is this node's own zone and weight.
func (c Config) selfPeer() Peer {
	p := Peer{ID: c.ID, Addr: c.advertise(), Zone: c.Zone, Weight: c.Weight}
	for _, q := range c.Peers {
		if q.ID == c.ID {
			if p.Zone == "" {
				p.Zone = q.Zone
			}
			if p.Weight == 0 {
				p.Weight = q.Weight
			}
		}
	}
	p.Weight = max(p.Weight, 1)
	return p
}

// ringEntry is this node's ring entry, without status and version.
func (c Config) ringEntry() *kvpb.RingMember {
	self := c.selfPeer()
	e := &kvpb.RingMember{Id: c.ID, Addr: self.Addr, Zone: self.Zone, Weight: uint32(self.Weight), Vnodes: uint32(c.VNodes)}
	if c.Gossip != nil {
		e.GossipAddr = c.Gossip.AdvertiseAddr
		if e.GossipAddr == "" {
			e.GossipAddr = c.Gossip.BindAddr
		}
	}
	return e
}

// maxMsg fits a key set merged from N replicas that each took a full one.
func (c Config) maxMsg() int { return max(4<<20, 4*c.MaxKeySetBytes) + 4*c.MaxValueBytes }

// Validate reports the first thing wrong with the configuration.
func (c Config) Validate() error {
	if c.ID == "" {
		return errors.New("node id is empty")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen address %q: %w", c.Listen, err)
	}
	if c.DataDir == "" {
		return errors.New("data dir is empty")
	}
	if c.Pprof && c.MetricsListen == "" {
		return errors.New("--pprof serves on the metrics listener: set --metrics-listen too")
	}
	if c.PeerListen == "" {
		if _, err := DefaultPeerAddr(c.Listen); err != nil {
			return fmt.Errorf("peer listen address: %w (set it)", err)
		}
	} else if _, _, err := net.SplitHostPort(c.PeerListen); err != nil {
		return fmt.Errorf("peer listen address %q: %w", c.PeerListen, err)
	}
	if c.peerListen() == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
		return fmt.Errorf("peer listen address %q: must differ from the client listen address", c.PeerListen)
	}
	if c.TLS.Enabled() && (c.TLS.Cert == "" || c.TLS.Key == "" || c.TLS.CA == "") {
		return errors.New("tls: a certificate, its key and the CA go together")
	}
	if len(c.ClusterKey) > 0 {
		if err := secure.CheckKey(c.ClusterKey); err != nil {
			return fmt.Errorf("cluster key: %w", err)
		}
	}
	if _, err := version.ParseMode(string(c.Mode)); err != nil {
		return err
	}
	self := false
	seen := map[string]bool{}
	for _, p := range c.Peers {
		if seen[p.ID] {
			return fmt.Errorf("peer %q listed twice", p.ID)
		}
		seen[p.ID] = true
		self = self || p.ID == c.ID
	}
	if c.Gossip == nil {
		if !self {
			return fmt.Errorf("peers do not include this node (%s)", c.ID)
		}
	} else {
		g := *c.Gossip
		g.Name = c.ID
		if err := g.Validate(); err != nil {
			return err
		}
		if ip := net.ParseIP(hostOf(c.advertise())); ip == nil || ip.IsUnspecified() {
			return fmt.Errorf("advertised peer address %q: must be a specific IP (set the peer advertise address)", c.advertise())
		}
		if c.TLS.Enabled() && len(c.ClusterKey) == 0 {
			// TLS guards the gRPC ports, not gossip: without a key any host
			// that reaches the gossip port would join the ring.
			return errors.New("gossip with TLS needs a cluster key (--gossip-key-file): else any host that reaches the gossip port joins the ring")
		}
		if c.Weight < 0 {
			return fmt.Errorf("weight=%d: must be positive", c.Weight)
		}
	}
	if c.PeerAdvertise != "" {
		if _, _, err := net.SplitHostPort(c.PeerAdvertise); err != nil {
			return fmt.Errorf("peer advertise address %q: %w", c.PeerAdvertise, err)
		}
	}
	if c.HandoffInterval <= 0 {
		return fmt.Errorf("handoff interval %v: must be positive", c.HandoffInterval)
	}
	if c.TombstoneGrace < 0 {
		return fmt.Errorf("tombstone grace %v: must not be negative", c.TombstoneGrace)
	}
	if c.AntiEntropyInterval < 0 {
		return fmt.Errorf("anti-entropy interval %v: must not be negative", c.AntiEntropyInterval)
	}
	if c.MerkleDepth < 0 || c.MerkleDepth > merkle.MaxDepth {
		return fmt.Errorf("merkle depth %d: must be between 0 and %d", c.MerkleDepth, merkle.MaxDepth)
	}
	nodes := len(c.Peers)
	if c.Gossip != nil {
		nodes = 0 // the ring grows and shrinks: N only has to be positive
	}
	if err := quorum.Validate(nodes, c.N, c.W, c.R, c.Mode == version.Linearizable); err != nil {
		return err
	}
	switch c.ReadRepair {
	case ReadRepairAsync, ReadRepairSync, ReadRepairOff:
	default:
		return fmt.Errorf("read repair %q: want async, sync or off", c.ReadRepair)
	}
	if c.VNodes < 1 {
		return fmt.Errorf("vnodes=%d: must be at least 1", c.VNodes)
	}
	if c.MaxInFlight < 1 {
		return fmt.Errorf("max in-flight=%d: must be positive", c.MaxInFlight)
	}
	if c.MaxSiblings < 1 {
		return fmt.Errorf("max siblings=%d: must be positive", c.MaxSiblings)
	}
	if c.MaxKeySetBytes < c.MaxValueBytes+1024 {
		return fmt.Errorf("max key set bytes=%d: must hold at least one value of --max-value-bytes (%d) and its clock", c.MaxKeySetBytes, c.MaxValueBytes)
	}
	if c.MaxValueBytes < 1 {
		return fmt.Errorf("max value bytes=%d: must be positive", c.MaxValueBytes)
	}
	if c.RequestTimeout <= 0 {
		return fmt.Errorf("request timeout %v: must be positive", c.RequestTimeout)
	}
	return nil
}

// ParsePeers parses "id=host:port[/zone[/weight]],…".
func ParsePeers(s string) ([]Peer, error) {
	var peers []Peer
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, rest, ok := strings.Cut(item, "=")
		if !ok || id == "" || rest == "" {
			return nil, fmt.Errorf("peer %q: want id=host:port[/zone[/weight]]", item)
		}
		parts := strings.Split(rest, "/")
		p := Peer{ID: id, Addr: parts[0], Weight: 1}
		if _, _, err := net.SplitHostPort(p.Addr); err != nil {
			return nil, fmt.Errorf("peer %q: address: %w", item, err)
		}
		if len(parts) > 1 {
			p.Zone = parts[1]
		}
		if len(parts) > 2 {
			w, err := strconv.Atoi(parts[2])
			if err != nil || w < 1 {
				return nil, fmt.Errorf("peer %q: weight %q must be a positive integer", item, parts[2])
			}
			p.Weight = w
		}
		if len(parts) > 3 {
			return nil, fmt.Errorf("peer %q: want id=host:port[/zone[/weight]]", item)
		}
		peers = append(peers, p)
	}
	if len(peers) == 0 {
		return nil, errors.New("no peers given")
	}
	return peers, nil
}

func hostOf(hostport string) string {
	h, _, _ := net.SplitHostPort(hostport)
	return h
}
