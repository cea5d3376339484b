// Package peer is a node's connections to the other nodes of its ring: one
// long-lived gRPC connection per peer, and liveness read off it (and off
// gossip, where there is gossip).
package peer

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/keepalive"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

// Config says how to reach peers.
type Config struct {
	// Self is this node's id; it is never dialled.
	Self string
	// Listen is this node's client listen address: peers are dialled from
	// its IP so network faults keyed on (source, destination) see
	// node-to-node traffic as such.
	Listen string
	// DialOptions add credentials and message limits.
	DialOptions []grpc.DialOption
}

// Gossip is the failure detector's view, where there is one.
type Gossip interface {
	// Dead reports whether the detector declared id dead.
	Dead(id string) bool
	// Nudge rejoins id now: its connection is up while gossip says dead.
	Nudge(id string)
}

// Peer is one connected peer.
type Peer struct {
	ID      string
	Addr    string
	Replica kvpb.ReplicaClient
	KV      kvpb.KVClient

	conn      *grpc.ClientConn
	lastReset atomic.Int64 // unix ns of the last ResetConnectBackoff
}

// Set holds the connections to every peer.
type Set struct {
	cfg    Config
	gossip atomic.Pointer[Gossip]

	mu    sync.RWMutex
	peers map[string]*Peer
}

// New returns an empty set; Sync connects.
func New(cfg Config) *Set { return &Set{cfg: cfg, peers: map[string]*Peer{}} }

// UseGossip makes liveness consult the failure detector as well.
func (s *Set) UseGossip(g Gossip) { s.gossip.Store(&g) }

// Get is the peer id, or nil if it has no address.
func (s *Set) Get(id string) *Peer {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.peers[id]
}

// Sync connects to every member (id → address) not connected yet, or
// connected at another address.
func (s *Set) Sync(addrs map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, addr := range addrs {
		if id == s.cfg.Self || addr == "" {
			continue
		}
		if p := s.peers[id]; p != nil {
			if p.Addr == addr {
				continue
			}
			p.conn.Close()
		}
		conn, err := s.dial(addr)
		if err != nil {
			return fmt.Errorf("peer %s: %w", id, err)
		}
		conn.Connect()
		s.peers[id] = &Peer{ID: id, Addr: addr, conn: conn, Replica: kvpb.NewReplicaClient(conn), KV: kvpb.NewKVClient(conn)}
	}
	return nil
}

// dial keeps connections up: keepalives detect a silently dropped one
// within seconds, and short backoff reconnects soon after a partition heals.
func (s *Set) dial(addr string) (*grpc.ClientConn, error) {
	host, _, _ := net.SplitHostPort(s.cfg.Listen)
	var local net.Addr
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		local = &net.TCPAddr{IP: ip}
	}
	dialer := func(ctx context.Context, a string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: local}
		return d.DialContext(ctx, "tcp", a)
	}
	return grpc.NewClient(addr, append(append([]grpc.DialOption(nil), s.cfg.DialOptions...),
		grpc.WithContextDialer(dialer),
		grpc.WithIdleTimeout(0), // stay connected: liveness is read off the connection state
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: time.Second, Timeout: time.Second, PermitWithoutStream: true}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: time.Second,
		}),
	)...)
}

// Live reports whether peer id can be sent a request now.
func (s *Set) Live(ctx context.Context, id string) bool {
	p := s.Get(id)
	if p == nil {
		return false
	}
	// A node the failure detector declared dead is not waited for. If its
	// connection is up nonetheless, gossip is behind (a partition healed):
	// rejoin it now rather than at the next rejoin round.
	if g := s.gossip.Load(); g != nil && (*g).Dead(id) {
		if p.conn.GetState() == connectivity.Ready {
			(*g).Nudge(id)
		}
		return false
	}
	st := p.conn.GetState()
	if st == connectivity.TransientFailure {
		// A peer that was down may be back: retry now rather than after the
		// backoff, at most a few times a second. This request does not wait.
		now := time.Now().UnixNano()
		if last := p.lastReset.Load(); now-last > int64(250*time.Millisecond) && p.lastReset.CompareAndSwap(last, now) {
			p.conn.ResetConnectBackoff()
		}
	}
	if st == connectivity.Idle {
		p.conn.Connect()
		wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		for st != connectivity.Ready && p.conn.WaitForStateChange(wctx, st) {
			st = p.conn.GetState()
		}
	}
	return st == connectivity.Ready
}

// State is a peer's liveness read off its connection alone (as kvpb's
// State strings), for a node without gossip.
func (s *Set) State(id string) string {
	p := s.Get(id)
	if p == nil {
		return kvpb.StateDead
	}
	s.Live(context.Background(), id) // nudges a reconnect
	switch p.conn.GetState() {
	case connectivity.Ready:
		return kvpb.StateAlive
	case connectivity.Connecting, connectivity.Idle:
		return kvpb.StateSuspect
	}
	return kvpb.StateDead
}

// Ready reports whether the connection to a peer is up, nudging a
// reconnect if it is not.
func (s *Set) Ready(id string) bool {
	p := s.Get(id)
	if p == nil {
		return false
	}
	s.Live(context.Background(), id)
	return p.conn.GetState() == connectivity.Ready
}

// Wake retries a peer's connection now: gossip saw it come back.
func (s *Set) Wake(id string) {
	if p := s.Get(id); p != nil {
		p.lastReset.Store(time.Now().UnixNano())
		p.conn.ResetConnectBackoff()
	}
}

// Close closes every connection.
func (s *Set) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.peers {
		p.conn.Close()
	}
}
