// Package kvnode is a Dynamo-style replicated key-value node: the gRPC
// services (client, replica, admin), the coordinator of quorum reads and
// writes in three consistency modes, and the wiring to storage and the ring.
package kvnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/membership"
	"github.com/quorumlab/quorumlab/kvnode/peer"
	"github.com/quorumlab/quorumlab/kvnode/secure"
	"github.com/quorumlab/quorumlab/kvnode/storage"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

// Node is a running kvnode.
type Node struct {
	cfg   Config
	log   *slog.Logger
	store *storage.Store
	met   *metrics

	// The pieces, each knowing nothing of the node, each using only those
	// listed before it: the ring state, the connections to peers, this
	// node's own replica, its clock and counters, the coordinator of
	// client requests, the mover of entries between nodes, the background
	// upkeep of the data, and ring changes.
	ring     *ringManager
	peers    *peer.Set
	replica  *replica
	clock    lwwClock
	counters *counters
	coord    *coordinator
	mover    *mover
	upkeep   *upkeep
	ops      *ringChanger
	gossip   *membership.Membership // nil: static membership

	// inflight holds a token per client request being coordinated.
	inflight chan struct{}

	tls      *secure.Material // nil: plaintext
	grpc     *grpc.Server     // client port: KV, admin, health
	peerGRPC *grpc.Server     // peer port: replica, forwarded KV, health
	health   *health.Server
	lis      net.Listener
	peerLis  net.Listener
	httpSrv  *http.Server
	bg       sync.WaitGroup // background work: replica calls, repair, handoff, anti-entropy
	stop     context.Context
	cancel   context.CancelFunc
	closeMu  sync.Once
}

// New opens storage, loads the ring and connects to the peers; Serve starts
// answering.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var mat *secure.Material
	if cfg.TLS.Enabled() {
		var err error
		if mat, err = secure.Load(cfg.TLS); err != nil {
			return nil, err
		}
	}
	st, err := openStore(cfg)
	if err != nil {
		return nil, err
	}
	met := newMetrics()
	n := &Node{cfg: cfg, log: cfg.Logger, store: st, met: met, counters: &counters{store: st},
		replica:  &replica{id: cfg.ID, mode: cfg.Mode, store: st, hintStored: met.hintsStored.Inc},
		inflight: make(chan struct{}, cfg.MaxInFlight), tls: mat}
	n.peers = peer.New(peer.Config{Self: cfg.ID, Listen: cfg.Listen, DialOptions: append(n.peerDialCreds(),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(n.cfg.maxMsg()), grpc.MaxCallSendMsgSize(n.cfg.maxMsg())))})
	n.stop, n.cancel = context.WithCancel(context.Background())
	// An autoscaler reads the load from here as well as from the counters.
	n.met.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kvnode_requests_in_flight", Help: "Client requests this node is coordinating now.",
	}, func() float64 { return float64(len(n.inflight)) }))
	if err := n.watchStore(); err != nil {
		st.Close()
		return nil, err
	}
	if err := n.loadRing(); err != nil {
		st.Close()
		return nil, err
	}
	n.coord = &coordinator{cfg: cfg, log: n.log, met: met, ring: n.ring, peers: n.peers, replica: n.replica,
		clock: &n.clock, counters: n.counters, bg: &n.bg, stop: n.stop}
	n.mover = &mover{cfg: cfg, met: met, peers: n.peers, replica: n.replica, store: st}
	n.upkeep = &upkeep{cfg: cfg, log: n.log, met: met, ring: n.ring, peers: n.peers, coord: n.coord, mover: n.mover,
		store: st, bg: &n.bg, stop: n.stop}
	n.ops = &ringChanger{cfg: cfg, log: n.log, met: met, ring: n.ring, coord: n.coord, mover: n.mover, upkeep: n.upkeep,
		replica: n.replica, counters: n.counters, store: st, bg: &n.bg, stop: n.stop}
	if err := n.syncPeers(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// loadRing builds the first view from the static peers and, with gossip,
// the persisted ring state.
func (n *Node) loadRing() error {
	var peers []*kvpb.RingMember
	for _, p := range n.cfg.Peers {
		peers = append(peers, &kvpb.RingMember{Id: p.ID, Addr: p.Addr, Zone: p.Zone, Weight: uint32(max(p.Weight, 1)),
			Vnodes: uint32(n.cfg.VNodes), Status: kvpb.StatusMember})
	}
	n.ring = newRingManager(n.cfg.ringEntry(), n.cfg.VNodes, n.store, n.log)
	return n.ring.load(peers, n.cfg.Gossip != nil)
}

// Serve listens and serves until Close. It returns once both listeners are
// up and the node reports SERVING on the health service.
func (n *Node) Serve() error {
	lis, err := net.Listen("tcp", n.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", n.cfg.Listen, err)
	}
	n.lis = lis
	peerLis, err := net.Listen("tcp", n.cfg.peerListen())
	if err != nil {
		lis.Close()
		return fmt.Errorf("peer listen %s: %w", n.cfg.peerListen(), err)
	}
	n.peerLis = peerLis
	opts := []grpc.ServerOption{
		n.serverCreds(),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 500 * time.Millisecond, PermitWithoutStream: true}),
		grpc.MaxRecvMsgSize(n.cfg.maxMsg()),
		grpc.MaxSendMsgSize(n.cfg.maxMsg()),
	}
	clientOpts := opts
	if n.cfg.AdminToken != "" {
		clientOpts = append(slices.Clip(opts), grpc.UnaryInterceptor(n.checkAdminToken))
	}
	n.grpc = grpc.NewServer(clientOpts...)
	kvpb.RegisterKVServer(n.grpc, &kvService{n: n})
	if n.cfg.AdminToken != "" {
		kvpb.RegisterAdminServer(n.grpc, &adminService{n: n})
	}
	n.peerGRPC = grpc.NewServer(append(slices.Clip(opts), n.peerAuth()...)...)
	kvpb.RegisterReplicaServer(n.peerGRPC, &replicaService{n: n})
	kvpb.RegisterKVServer(n.peerGRPC, &kvService{n: n}) // coordinators forward writes here
	n.health = health.NewServer()
	n.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING) // until Serve is done
	healthpb.RegisterHealthServer(n.grpc, n.health)
	healthpb.RegisterHealthServer(n.peerGRPC, n.health)
	if n.tls == nil && len(n.cfg.ClusterKey) == 0 {
		n.log.Warn("peer port is unauthenticated: anyone who reaches it can read and write replicas; set --tls-* or --gossip-key-file on untrusted networks",
			"peer_listen", peerLis.Addr().String())
	}
	if n.cfg.MetricsListen != "" {
		ml, err := net.Listen("tcp", n.cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics listen %s: %w", n.cfg.MetricsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(n.met.reg, promhttp.HandlerOpts{}))
		if n.cfg.Pprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		n.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := n.httpSrv.Serve(ml); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.log.Error("metrics server", "err", err)
			}
		}()
	}
	// Gossip is up before the first request is served: handlers read
	// n.gossip. Peers that hear of this node early queue on the listener.
	if n.cfg.Gossip != nil {
		if err := n.startGossip(); err != nil {
			return err
		}
	}
	go func() {
		if err := n.grpc.Serve(lis); err != nil {
			n.log.Error("grpc server", "err", err)
		}
	}()
	go func() {
		if err := n.peerGRPC.Serve(peerLis); err != nil {
			n.log.Error("peer grpc server", "err", err)
		}
	}()
	n.startBackground()
	n.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	n.log.Info("serving", "id", n.cfg.ID, "listen", lis.Addr().String(), "peer_listen", peerLis.Addr().String(),
		"tls", n.tls != nil, "mode", n.cfg.Mode,
		"n", n.cfg.N, "w", n.cfg.W, "r", n.cfg.R, "ring", n.ring.View().Current.Len(), "gossip", n.gossip != nil,
		"sloppy", n.cfg.Sloppy, "fsync", n.cfg.Fsync)
	if n.gossip != nil && n.cfg.RingJoin {
		if st := n.ring.View().Status(n.cfg.ID); st == kvpb.StatusNone || st == kvpb.StatusJoining {
			n.ops.startRingOp("join", n.ops.join)
		}
	}
	return nil
}

// startBackground starts the node's maintenance loops.
func (n *Node) startBackground() {
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		n.ringLoop()
	}()
	if n.replica.recovering.Load() {
		n.bg.Add(1)
		go func() {
			defer n.bg.Done()
			n.ops.recoverRanges(n.stop)
		}()
	}
	n.upkeep.every(n.cfg.HandoffInterval, func(ctx context.Context) {
		n.upkeep.deliverHints(ctx)
		n.upkeep.rebalance(ctx)
	})
	if n.cfg.AntiEntropyInterval > 0 {
		n.upkeep.every(n.cfg.AntiEntropyInterval, n.upkeep.antiEntropy)
	}
	if n.cfg.TombstoneGrace > 0 && n.cfg.Mode != version.Linearizable {
		n.upkeep.every(tombstoneSweepInterval(n.cfg.TombstoneGrace), n.upkeep.collectTombstones)
	}
}

// Addr is the address the node listens on (after Serve).
func (n *Node) Addr() string {
	if n.lis == nil {
		return n.cfg.Listen
	}
	return n.lis.Addr().String()
}

// PeerAddr is the address the peer services listen on (after Serve).
func (n *Node) PeerAddr() string {
	if n.peerLis == nil {
		return n.cfg.peerListen()
	}
	return n.peerLis.Addr().String()
}

// Close stops serving, waits for in-flight replica work, and closes storage.
func (n *Node) Close() error {
	var err error
	n.closeMu.Do(func() {
		if n.health != nil {
			n.health.Shutdown()
		}
		for _, srv := range []*grpc.Server{n.grpc, n.peerGRPC} {
			if srv == nil {
				continue
			}
			stopped := make(chan struct{})
			go func() { srv.GracefulStop(); close(stopped) }()
			select {
			case <-stopped:
			case <-time.After(5 * time.Second):
				srv.Stop()
			}
		}
		if n.httpSrv != nil {
			n.httpSrv.Close()
		}
		n.cancel()
		if n.gossip != nil {
			// A graceful leave tells peers at once not to wait for this node.
			n.gossip.Close(time.Second)
		}
		n.bg.Wait()
		n.peers.Close()
		err = n.store.Close()
	})
	return err
}

// crash stops the node as a kill would, as far as peers can tell: gossip
// falls silent without a leave. For tests.
func (n *Node) crash() error {
	if n.gossip != nil {
		n.gossip.Close(0)
	}
	return n.Close()
}
