package kvnode

import (
	"context"
	"crypto/subtle"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/membership"
	"github.com/quorumlab/quorumlab/kvnode/merkle"
	"github.com/quorumlab/quorumlab/kvnode/ring"
)

type kvService struct {
	kvpb.UnimplementedKVServer
	n *Node
}

func (s *kvService) Get(ctx context.Context, req *kvpb.GetRequest) (*kvpb.GetResponse, error) {
	start := time.Now()
	release, err := s.n.admit()
	if err != nil {
		s.n.met.observe("get", start, err)
		return nil, err
	}
	defer release()
	resp, err := s.n.coord.get(ctx, req)
	s.n.met.observe("get", start, err)
	return resp, err
}

func (s *kvService) Put(ctx context.Context, req *kvpb.PutRequest) (*kvpb.PutResponse, error) {
	start := time.Now()
	release, err := s.n.admit()
	if err != nil {
		s.n.met.observe("put", start, err)
		return nil, err
	}
	defer release()
	resp, err := s.n.coord.put(ctx, req.GetKey(), req.GetValue(), req.GetContext(), false, req.GetW())
	s.n.met.observe("put", start, err)
	return resp, err
}

func (s *kvService) Delete(ctx context.Context, req *kvpb.DeleteRequest) (*kvpb.DeleteResponse, error) {
	start := time.Now()
	release, err := s.n.admit()
	if err != nil {
		s.n.met.observe("delete", start, err)
		return nil, err
	}
	defer release()
	_, err = s.n.coord.put(ctx, req.GetKey(), nil, req.GetContext(), true, req.GetW())
	s.n.met.observe("delete", start, err)
	if err != nil {
		return nil, err
	}
	return &kvpb.DeleteResponse{}, nil
}

// admit takes an in-flight slot for a client request, or refuses it at
// once: an overloaded node that queued everything would time requests out
// after some replicas applied them, making writes indeterminate that never
// needed to be.
func (n *Node) admit() (release func(), err error) {
	select {
	case n.inflight <- struct{}{}:
		return func() { <-n.inflight }, nil
	default:
		return nil, refused("node %s is coordinating %d requests, its limit (--max-inflight); retry", n.cfg.ID, cap(n.inflight))
	}
}

type replicaService struct {
	kvpb.UnimplementedReplicaServer
	n *Node
}

func (s *replicaService) Read(ctx context.Context, req *kvpb.ReplicaReadRequest) (*kvpb.ReplicaReadResponse, error) {
	s.n.met.reached(ctx, "r")
	if err := checkKey(req.GetKey()); err != nil {
		return nil, err
	}
	if err := s.n.replica.refusal(false); err != nil {
		return nil, err
	}
	vs, err := s.n.replica.read(ring.Token(req.GetKey()), req.GetKey(), req.GetIncludeHints())
	if err != nil {
		return nil, status.Errorf(codes.Internal, "replica read: %v", err)
	}
	if vs == nil {
		return &kvpb.ReplicaReadResponse{}, nil
	}
	return &kvpb.ReplicaReadResponse{Set: &kvpb.VersionSet{Versions: vs}}, nil
}

func (s *replicaService) Write(ctx context.Context, req *kvpb.ReplicaWriteRequest) (*kvpb.ReplicaWriteResponse, error) {
	if err := checkKey(req.GetKey()); err != nil {
		return nil, err
	}
	if err := s.n.replica.refusal(true); err != nil {
		return nil, err
	}
	token := ring.Token(req.GetKey())
	var err error
	if req.GetHintFor() != "" {
		err = s.n.replica.hint(req.GetHintFor(), token, req.GetKey(), req.GetSet().GetVersions())
	} else {
		err = s.n.replica.apply(token, req.GetKey(), req.GetSet().GetVersions())
	}
	if err != nil {
		return nil, status.Errorf(codes.Internal, "replica write: %v", err)
	}
	if req.GetHintFor() == "" {
		s.n.met.reached(ctx, "w")
	}
	return &kvpb.ReplicaWriteResponse{}, nil
}

// WriteBatch applies a coordinator's queued writes together. A batch that
// is too long or holds a bad key is refused before any of it is applied.
func (s *replicaService) WriteBatch(ctx context.Context, req *kvpb.ReplicaWriteBatch) (*kvpb.ReplicaWriteResponse, error) {
	ws := req.GetWrites()
	if len(ws) > maxBatchWrites {
		return nil, invalid("batch of %d writes; the limit is %d", len(ws), maxBatchWrites)
	}
	for _, w := range ws {
		if err := checkKey(w.GetKey()); err != nil {
			return nil, err
		}
	}
	if err := s.n.replica.refusal(true); err != nil {
		return nil, err
	}
	if _, err := mergeMany(s.n.replica, ws); err != nil {
		return nil, status.Errorf(codes.Internal, "replica write: %v", err)
	}
	s.n.met.reachedBatch(ctx, ws, req.GetQueuedUnixNs())
	return &kvpb.ReplicaWriteResponse{}, nil
}

func (s *replicaService) Transfer(ctx context.Context, req *kvpb.TransferRequest) (*kvpb.TransferResponse, error) {
	if err := s.n.replica.refusal(true); err != nil {
		return nil, err
	}
	for _, e := range req.GetEntries() {
		if err := checkKey(e.GetKey()); err != nil {
			return nil, err
		}
	}
	if _, err := s.n.mover.applyEntries(req.GetEntries()); err != nil {
		return nil, status.Errorf(codes.Internal, "transfer: %v", err)
	}
	return &kvpb.TransferResponse{}, nil
}

func checkDepth(d uint32) error {
	if d > merkle.MaxDepth {
		return invalid("depth %d: at most %d", d, merkle.MaxDepth)
	}
	return nil
}

func (s *replicaService) Scan(req *kvpb.ScanRequest, stream kvpb.Replica_ScanServer) error {
	if err := checkDepth(req.GetDepth()); err != nil {
		return err
	}
	if err := s.n.replica.refusal(false); err != nil {
		return err
	}
	err := s.n.mover.scanEntries(fromPBRanges(req.GetRanges()), int(req.GetDepth()), req.GetLeaves(), func(es []*kvpb.Entry) error {
		return stream.Send(&kvpb.ScanResponse{Entries: es})
	})
	if err != nil && status.Code(err) == codes.Unknown {
		return status.Errorf(codes.Internal, "scan: %v", err)
	}
	return err
}

func (s *replicaService) Tree(ctx context.Context, req *kvpb.TreeRequest) (*kvpb.TreeResponse, error) {
	if err := checkDepth(req.GetDepth()); err != nil {
		return nil, err
	}
	if err := s.n.replica.refusal(false); err != nil {
		return nil, err
	}
	t, keys, err := s.n.mover.buildTree(fromPBRanges(req.GetRanges()), int(req.GetDepth()))
	if err != nil {
		return nil, status.Errorf(codes.Internal, "tree: %v", err)
	}
	leaves := t.Leaves()
	resp := &kvpb.TreeResponse{Root: merkle.Root(leaves), Keys: keys}
	if resp.Root != req.GetRoot() {
		resp.Leaves = leaves
	}
	return resp, nil
}

type adminService struct {
	kvpb.UnimplementedAdminServer
	n *Node
}

const adminPrefix = "/" + "quorumlab.kvnode.v1.Admin/"

// checkAdminToken guards every admin call with the configured bearer token.
func (n *Node) checkAdminToken(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if strings.HasPrefix(info.FullMethod, adminPrefix) {
		md, _ := metadata.FromIncomingContext(ctx)
		got := ""
		if v := md.Get("authorization"); len(v) > 0 {
			got = strings.TrimPrefix(v[0], "Bearer ")
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(n.cfg.AdminToken)) != 1 {
			return nil, status.Error(codes.Unauthenticated, "admin: missing or wrong token")
		}
	}
	return h(ctx, req)
}

func (s *adminService) Status(ctx context.Context, _ *kvpb.StatusRequest) (*kvpb.StatusResponse, error) {
	n := s.n
	var keys, hints uint64
	damage := n.replica.damage()
	if damage == "" {
		// A damaged store is not read: status stays available.
		var err error
		if keys, err = n.store.Count(); err != nil {
			damage = n.replica.damage()
			if damage == "" {
				return nil, status.Errorf(codes.Internal, "count keys: %v", err)
			}
		}
	}
	if damage == "" {
		var err error
		if hints, err = n.store.CountHints(); err != nil {
			damage = n.replica.damage()
			if damage == "" {
				return nil, status.Errorf(codes.Internal, "count hints: %v", err)
			}
		}
	}
	resp := &kvpb.StatusResponse{
		Id: n.cfg.ID, Mode: string(n.cfg.Mode),
		N: uint32(n.cfg.N), W: uint32(n.cfg.W), R: uint32(n.cfg.R),
		ClockOffsetNs: n.clock.offset.Load(), Keys: keys,
		Gossip: n.gossip != nil, Hints: hints, Sloppy: n.cfg.Sloppy,
		Damage: damage, Recovering: n.replica.recovering.Load(),
	}
	resp.Members = n.members()
	return resp, nil
}

// members lists every node this one knows of: the static peers in their
// order, or every node of the ring state and of gossip, by id.
func (n *Node) members() []*kvpb.Member {
	v := n.ring.View()
	share := v.Current.Share()
	if n.gossip == nil {
		var out []*kvpb.Member
		for _, p := range n.cfg.Peers {
			state := kvpb.StateAlive
			if p.ID != n.cfg.ID {
				state = n.peers.State(p.ID)
			}
			out = append(out, &kvpb.Member{
				Id: p.ID, Addr: p.Addr, Zone: p.Zone, Weight: uint32(max(p.Weight, 1)),
				State: state, Share: share[p.ID], RingStatus: kvpb.StatusMember,
			})
		}
		return out
	}
	byID := map[string]*kvpb.Member{}
	for id, e := range v.Members {
		byID[id] = &kvpb.Member{
			Id: id, Addr: e.GetAddr(), GossipAddr: e.GetGossipAddr(), Zone: e.GetZone(), Weight: max(e.GetWeight(), 1),
			State: string(membership.Dead), RingStatus: e.GetStatus(), Share: share[id],
		}
	}
	for _, gm := range n.gossip.Members() {
		m := byID[gm.Name]
		if m == nil {
			m = &kvpb.Member{Id: gm.Name, RingStatus: kvpb.StatusNone, Weight: 1}
			var e kvpb.RingMember
			if proto.Unmarshal(gm.Meta, &e) == nil {
				m.Addr, m.Zone, m.Weight = e.GetAddr(), e.GetZone(), max(e.GetWeight(), 1)
			}
			byID[gm.Name] = m
		}
		m.GossipAddr, m.State = gm.Addr, string(gm.State)
		if gm.State == membership.Alive && m.RingStatus != kvpb.StatusNone && !n.peers.Ready(gm.Name) {
			// Gossip still counts it alive, but its gRPC port does not answer.
			m.State = string(membership.Suspect)
		}
	}
	self := byID[n.cfg.ID]
	if self == nil {
		own := n.ring.entry(kvpb.StatusNone, 0)
		self = &kvpb.Member{Id: n.cfg.ID, Addr: own.GetAddr(), GossipAddr: own.GetGossipAddr(), Zone: own.GetZone(),
			Weight: own.GetWeight(), RingStatus: kvpb.StatusNone}
		byID[n.cfg.ID] = self
	}
	self.State = string(membership.Alive)
	out := make([]*kvpb.Member, 0, len(byID))
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		out = append(out, byID[id])
	}
	return out
}

func (s *adminService) Ring(ctx context.Context, req *kvpb.RingRequest) (*kvpb.RingResponse, error) {
	v := s.n.ring.View()
	resp := &kvpb.RingResponse{}
	for _, t := range v.Current.Tokens() {
		resp.Tokens = append(resp.Tokens, &kvpb.TokenOwner{Token: t.Token, Node: t.Node})
	}
	if len(req.GetKey()) > 0 {
		resp.KeyToken = ring.Token(req.GetKey())
		resp.PreferenceList = v.Current.PreferenceList(req.GetKey(), s.n.cfg.N)
	}
	if req.GetReplicaRanges() {
		for _, g := range replicaRanges(v.Current, s.n.cfg.N) {
			resp.ReplicaRanges = append(resp.ReplicaRanges, &kvpb.ReplicaRange{Ranges: toPBRanges(g.ranges), Replicas: g.replicas})
		}
	}
	return resp, nil
}

// replicaGroup is every range whose replicas are the same set of nodes.
type replicaGroup struct {
	replicas []string // sorted
	ranges   []ring.Range
}

// replicaRanges groups the ring's ranges by their n replicas.
func replicaRanges(r *ring.Ring, n int) []replicaGroup {
	var sets [][]string
	for _, t := range r.Tokens() {
		set := slices.Sorted(slices.Values(r.PreferenceListForToken(t.Token, n)))
		if !slices.ContainsFunc(sets, func(s []string) bool { return slices.Equal(s, set) }) {
			sets = append(sets, set)
		}
	}
	var out []replicaGroup
	for _, set := range sets {
		rs := ring.Segments([]*ring.Ring{r}, n, func(prefs [][]string) bool {
			return slices.Equal(slices.Sorted(slices.Values(prefs[0])), set)
		})
		out = append(out, replicaGroup{replicas: set, ranges: rs})
	}
	return out
}

// LocalTree is the replica API's Tree for the harness: this node's own
// Merkle tree over the ranges.
func (s *adminService) LocalTree(ctx context.Context, req *kvpb.TreeRequest) (*kvpb.TreeResponse, error) {
	return (&replicaService{n: s.n}).Tree(ctx, req)
}

func (s *adminService) Join(ctx context.Context, _ *kvpb.JoinRequest) (*kvpb.JoinResponse, error) {
	if err := s.n.ringOp(ctx, "join", s.n.ops.join); err != nil {
		return nil, err
	}
	return &kvpb.JoinResponse{}, nil
}

func (s *adminService) Decommission(ctx context.Context, _ *kvpb.DecommissionRequest) (*kvpb.DecommissionResponse, error) {
	if err := s.n.ringOp(ctx, "decommission", s.n.ops.decommission); err != nil {
		return nil, err
	}
	return &kvpb.DecommissionResponse{}, nil
}

func (s *adminService) LocalRead(ctx context.Context, req *kvpb.ReplicaReadRequest) (*kvpb.ReplicaReadResponse, error) {
	if err := checkKey(req.GetKey()); err != nil {
		return nil, err
	}
	if err := s.n.replica.refusal(false); err != nil {
		return nil, err
	}
	vs, err := s.n.replica.read(ring.Token(req.GetKey()), req.GetKey(), false)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "local read: %v", err)
	}
	return &kvpb.ReplicaReadResponse{Set: &kvpb.VersionSet{Versions: vs}}, nil
}

// ringOp starts (or joins) a ring change and waits for it while ctx lasts.
func (n *Node) ringOp(ctx context.Context, kind string, op func(context.Context) error) error {
	if n.gossip == nil {
		return status.Error(codes.FailedPrecondition, kind+": static membership (--peers without --join): the ring cannot change")
	}
	o, err := n.ops.startRingOp(kind, op)
	if err != nil {
		return status.Errorf(codes.FailedPrecondition, "%s: %v", kind, err)
	}
	if err := o.wait(ctx); err != nil {
		if ctx.Err() != nil {
			return status.Errorf(codes.DeadlineExceeded, "%v (it goes on in the background)", err)
		}
		return status.Errorf(codes.FailedPrecondition, "%v", err)
	}
	return nil
}

func (s *adminService) SetClockOffset(ctx context.Context, req *kvpb.SetClockOffsetRequest) (*kvpb.SetClockOffsetResponse, error) {
	if off := req.GetOffsetNs(); off > int64(MaxClockOffset) || off < -int64(MaxClockOffset) {
		return nil, invalid("clock offset %v is beyond ±%v", time.Duration(off), MaxClockOffset)
	}
	prev := s.n.clock.offset.Swap(req.GetOffsetNs())
	s.n.log.Info("clock offset set", "offset", time.Duration(req.GetOffsetNs()), "previous", time.Duration(prev))
	return &kvpb.SetClockOffsetResponse{PreviousNs: prev}, nil
}
