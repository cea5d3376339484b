package kvnode

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/placement"
	"github.com/quorumlab/quorumlab/kvnode/quorum"
	"github.com/quorumlab/quorumlab/kvnode/ring"
	"github.com/quorumlab/quorumlab/kvnode/vclock"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

// checkGrowth refuses a version set that grows past the key's limits;
// a write that shrinks it (resolving siblings, or a delete with the read's
// context) always passes, so a key at its limit stays writable.
func (n *Node) checkGrowth(key []byte, old, merged []*kvpb.Version) error {
	if len(merged) > n.cfg.MaxSiblings && len(merged) > len(old) {
		return refused("key %q would have %d siblings; the limit is %d (--max-siblings): read it and write or delete with its context to resolve them", key, len(merged), n.cfg.MaxSiblings)
	}
	size := func(vs []*kvpb.Version) int {
		t := 0
		for _, v := range vs {
			t += proto.Size(v)
		}
		return t
	}
	if s := size(merged); s > n.cfg.MaxKeySetBytes && s > size(old) {
		return refused("key %q would hold %d bytes of versions; the limit is %d (--max-key-set-bytes): read it and write or delete with its context to resolve them", key, s, n.cfg.MaxKeySetBytes)
	}
	return nil
}

func (n *Node) checkKey(key []byte) error {
	if len(key) == 0 {
		return invalid("key is empty")
	}
	if len(key) > MaxKeyBytes {
		return invalid("key is %d bytes; the limit is %d bytes", len(key), MaxKeyBytes)
	}
	return nil
}

func (n *Node) quorum(override uint32, def int, name string) (int, error) {
	if override == 0 {
		return def, nil
	}
	if int(override) > n.cfg.N {
		return 0, invalid("%s=%d: must be between 1 and N=%d", name, override, n.cfg.N)
	}
	q := int(override)
	if n.cfg.Mode == version.Linearizable {
		other := n.cfg.R
		if name == "R" {
			other = n.cfg.W
		}
		if err := quorum.Overlap(n.cfg.N, q, other, true); err != nil {
			return 0, invalid("%s=%d: %v", name, q, err)
		}
	}
	return q, nil
}

// reply is one replica's answer.
type reply struct {
	id  string
	set []*kvpb.Version
	err error
	// standIn marks a sloppy-quorum stand-in's reply: its versions are
	// hints, and read repair leaves it alone.
	standIn bool
}

// request bounds a client request by the node's request timeout.
func (n *Node) request(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, n.cfg.RequestTimeout)
}

// fanout runs f against each replica in parallel. The calls outlive the
// client's request (bounded by the request timeout) so that replicas beyond
// the quorum still get the write and late replies can drive read repair.
func (n *Node) fanout(ctx context.Context, ids []string, f func(ctx context.Context, id string) reply) <-chan reply {
	ch := make(chan reply, len(ids))
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(n.cfg.RequestTimeout)
	}
	bctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), dl)
	stop := context.AfterFunc(n.stop, cancel)
	var left = len(ids)
	done := make(chan struct{}, len(ids))
	for _, id := range ids {
		n.bg.Add(1)
		go func() {
			defer n.bg.Done()
			ch <- f(bctx, id)
			done <- struct{}{}
		}()
	}
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		for ; left > 0; left-- {
			<-done
		}
		stop()
		cancel()
	}()
	return ch
}

func (n *Node) readReplica(ctx context.Context, id string, token uint64, key []byte, standIn bool) reply {
	if id == n.cfg.ID {
		start := time.Now()
		set, err := n.localRead(token, key, standIn)
		n.met.local(start, "s", "r")
		return reply{id: id, set: set, err: err, standIn: standIn}
	}
	p := n.peers.Get(id)
	if p == nil {
		return reply{id: id, err: fmt.Errorf("no connection to %s", id), standIn: standIn}
	}
	var hdr metadata.MD
	resp, err := p.Replica.Read(stampSent(ctx), &kvpb.ReplicaReadRequest{Key: key, IncludeHints: standIn}, grpc.Header(&hdr))
	if err != nil {
		n.met.replicaErrors.WithLabelValues(id, "read").Inc()
	} else {
		n.met.answered(hdr, "s")
	}
	return reply{id: id, set: resp.GetSet().GetVersions(), err: err, standIn: standIn}
}

// localRead reads this node's versions of key, with the hints it holds for
// other nodes if withHints is set.
func (n *Node) localRead(token uint64, key []byte, withHints bool) ([]*kvpb.Version, error) {
	set, err := n.store.Get(token, key)
	if err != nil || !withHints {
		return set.GetVersions(), err
	}
	hints, err := n.store.KeyHints(token, key)
	if err != nil {
		return nil, err
	}
	vs := set.GetVersions()
	for _, h := range hints {
		vs, _ = version.Merge(n.cfg.Mode, vs, h.GetVersions())
	}
	return vs, nil
}

// writeReplica sends vs to one replica; hintFor, if set, makes it a hint
// kept for that home replica.
func (n *Node) writeReplica(ctx context.Context, id string, token uint64, key []byte, vs []*kvpb.Version, hintFor string) reply {
	if id == n.cfg.ID {
		if hintFor != "" {
			return reply{id: id, err: n.storeHint(hintFor, token, key, vs)}
		}
		start := time.Now()
		err := n.applyLocal(token, key, vs)
		n.met.local(start, "w", "a")
		return reply{id: id, err: err}
	}
	p := n.peers.Get(id)
	if p == nil {
		return reply{id: id, err: fmt.Errorf("no connection to %s", id)}
	}
	var hdr metadata.MD
	_, err := p.Replica.Write(stampSent(ctx), &kvpb.ReplicaWriteRequest{Key: key, Set: &kvpb.VersionSet{Versions: vs}, HintFor: hintFor}, grpc.Header(&hdr))
	if err != nil {
		n.met.replicaErrors.WithLabelValues(id, "write").Inc()
	} else {
		n.met.answered(hdr, "a")
	}
	return reply{id: id, err: err}
}

func (n *Node) applyLocal(token uint64, key []byte, vs []*kvpb.Version) error {
	_, err := n.mergeLocal(token, key, vs)
	return err
}

// mergeLocal merges vs into the key's stored set and reports whether that
// changed it.
func (n *Node) mergeLocal(token uint64, key []byte, vs []*kvpb.Version) (bool, error) {
	changed := false
	_, err := n.store.Update(token, key, func(old *kvpb.VersionSet) (*kvpb.VersionSet, bool) {
		merged, ch := version.Merge(n.cfg.Mode, old.GetVersions(), vs)
		if !ch {
			return old, false
		}
		changed = true
		return &kvpb.VersionSet{Versions: merged}, true
	})
	return changed, err
}

// storeHint merges vs into the hint kept for owner.
func (n *Node) storeHint(owner string, token uint64, key []byte, vs []*kvpb.Version) error {
	_, err := n.store.UpdateHint(owner, token, key, func(old *kvpb.VersionSet) (*kvpb.VersionSet, bool) {
		merged, ch := version.Merge(n.cfg.Mode, old.GetVersions(), vs)
		if !ch {
			return old, false
		}
		return &kvpb.VersionSet{Versions: merged}, true
	})
	if err == nil {
		n.met.hintsStored.Inc()
	}
	return err
}

// place computes where a request for token goes, on the current view.
func (n *Node) place(ctx context.Context, token uint64) placement.Placement {
	return placement.Place(n.ring.View(), token, n.cfg.N, n.cfg.Sloppy, func(id string) bool { return n.live(ctx, id) })
}

// quorumWrite sends vs to the key's live replicas (and, sloppy, stand-ins)
// and waits for w acks. Fewer than w targets: nothing is sent and the error
// is Unavailable (the write certainly did not happen). Sent but fewer than
// w acks by the deadline: the error is indeterminate.
func (n *Node) quorumWrite(ctx context.Context, token uint64, key []byte, vs []*kvpb.Version, w int) error {
	pl := n.place(ctx, token)
	if len(pl.Targets) < w {
		return unavailable("write not attempted: %d of %d replicas reachable (%v), need W=%d", len(pl.Targets), len(pl.Home), pl.Targets, w)
	}
	return n.replicate(ctx, token, key, vs, pl.Targets, pl, w, 0)
}

// replicate sends vs to ids and to pl's pending replicas, and returns once
// acks from ids (counting those already made) reach w. Pending replicas
// never count: they may be catching up.
func (n *Node) replicate(ctx context.Context, token uint64, key []byte, vs []*kvpb.Version, ids []string, pl placement.Placement, w, acks int) error {
	all := append(slices.Clone(ids), pl.Pending...)
	if len(all) == 0 {
		if acks >= w {
			return nil
		}
		return indeterminate("write acknowledged by %d of W=%d replicas", acks, w)
	}
	ch := n.fanout(ctx, all, func(ctx context.Context, id string) reply {
		return n.writeReplica(ctx, id, token, key, vs, pl.HintFor[id])
	})
	if acks >= w {
		return nil // the rest replicate in the background
	}
	counted := len(ids)
	failed := 0
	var lastErr error
	for range all {
		select {
		case r := <-ch:
			if !slices.Contains(ids, r.id) {
				continue
			}
			if r.err == nil {
				acks++
				if acks >= w {
					return nil
				}
				continue
			}
			failed++
			lastErr = r.err
			if acks+counted-failed < w {
				return indeterminate("write reached %d of W=%d replicas; %d failed (last: %v)", acks, w, failed, lastErr)
			}
		case <-ctx.Done():
			return indeterminate("write acknowledged by %d of W=%d replicas before the deadline", acks, w)
		}
	}
	return indeterminate("write acknowledged by %d of W=%d replicas (last error: %v)", acks, w, lastErr)
}

// quorumRead reads from every live home replica (sloppy: the first N live
// nodes of the extended preference list) and returns the first r successful
// replies, plus the channel that still delivers the others.
func (n *Node) quorumRead(ctx context.Context, token uint64, key []byte, r int) ([]reply, <-chan reply, int, error) {
	pl := n.place(ctx, token)
	live := pl.Targets
	if len(live) < r {
		return nil, nil, 0, unavailable("read not attempted: %d of %d replicas reachable (%v), need R=%d", len(live), len(pl.Home), live, r)
	}
	ch := n.fanout(ctx, live, func(ctx context.Context, id string) reply {
		return n.readReplica(ctx, id, token, key, pl.HintFor[id] != "")
	})
	var ok []reply
	failed := 0
	for range live {
		select {
		case rp := <-ch:
			if rp.err != nil {
				failed++
				if len(live)-failed < r {
					return nil, nil, 0, unavailable("read: %d of R=%d replicas replied; %d failed (last: %v)", len(ok), r, failed, rp.err)
				}
				continue
			}
			ok = append(ok, rp)
			if len(ok) >= r {
				return ok, ch, len(live) - len(ok) - failed, nil
			}
		case <-ctx.Done():
			return nil, nil, 0, status.Errorf(codes.DeadlineExceeded, "read: %d of R=%d replicas replied before the deadline", len(ok), r)
		}
	}
	return nil, nil, 0, unavailable("read: only %d of R=%d replicas replied", len(ok), r)
}

func mergeReplies(mode version.Mode, rs []reply) []*kvpb.Version {
	var merged []*kvpb.Version
	for _, r := range rs {
		merged, _ = version.Merge(mode, merged, r.set)
	}
	return merged
}

// repair sends merged to every home replica whose reply lacked some of it.
// Stand-ins are left alone: what they hold is handed off anyway.
func (n *Node) repair(ctx context.Context, token uint64, key []byte, merged []*kvpb.Version, rs []reply) {
	// A replica that collected an expired tombstone is not given it back.
	collected := version.Expired(n.cfg.Mode, merged, n.tombstoneCutoff())
	for _, r := range rs {
		if r.standIn || (collected && len(r.set) == 0) {
			continue
		}
		if _, changed := version.Merge(n.cfg.Mode, r.set, merged); !changed {
			continue
		}
		n.met.readRepairs.Inc()
		if rr := n.writeReplica(ctx, r.id, token, key, merged, ""); rr.err != nil {
			n.log.Debug("read repair failed", "replica", r.id, "key", string(key), "err", rr.err)
		}
	}
}

// readRepair repairs the replicas that replied (sync mode: before the read
// returns) and, in the background, the ones that reply late.
func (n *Node) readRepair(ctx context.Context, token uint64, key []byte, merged []*kvpb.Version, got []reply, rest <-chan reply, pending int) {
	if n.cfg.ReadRepair == ReadRepairOff || n.cfg.Mode == version.Linearizable {
		return
	}
	if n.cfg.ReadRepair == ReadRepairSync {
		n.repair(ctx, token, key, merged, got)
		got = nil
	}
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		ctx, cancel := context.WithTimeout(n.stop, n.cfg.RequestTimeout)
		defer cancel()
		all := append([]reply(nil), got...)
		late := make([]reply, 0, pending)
		for ; pending > 0; pending-- {
			r := <-rest // every fanout call ends by its deadline
			if r.err == nil {
				late = append(late, r)
			}
		}
		full := merged
		for _, r := range late {
			full, _ = version.Merge(n.cfg.Mode, full, r.set)
		}
		n.repair(ctx, token, key, full, append(all, late...))
	}()
}

func (n *Node) get(ctx context.Context, req *kvpb.GetRequest) (*kvpb.GetResponse, error) {
	if err := n.checkKey(req.GetKey()); err != nil {
		return nil, err
	}
	r, err := n.quorum(req.GetR(), n.cfg.R, "R")
	if err != nil {
		return nil, err
	}
	ctx, cancel := n.request(ctx)
	defer cancel()
	key := req.GetKey()
	token := ring.Token(key)
	got, rest, pending, err := n.quorumRead(ctx, token, key, r)
	if err != nil {
		return nil, err
	}
	merged := mergeReplies(n.cfg.Mode, got)
	if n.cfg.Mode == version.Linearizable {
		// ABD: a read returns only a value a write quorum holds. Replies
		// that agree on the highest tag prove that only if there are at least
		// W of them (with R < W they never are); otherwise write it back.
		holding := 0
		for _, rp := range got {
			if version.SameTag(n.cfg.Mode, rp.set, merged) {
				holding++
			}
		}
		if holding < n.cfg.W && len(merged) > 0 {
			if err := n.quorumWrite(ctx, token, key, merged, n.cfg.W); err != nil {
				st := status.Convert(err)
				return nil, status.Errorf(st.Code(), "read write-back: %s", st.Message())
			}
			n.met.readRepairs.Inc()
		}
	} else {
		n.readRepair(ctx, token, key, merged, got, rest, pending)
	}
	resp := &kvpb.GetResponse{Values: version.Values(merged)}
	if n.cfg.Mode == version.VClock {
		resp.Context = version.EncodeContext(version.ReadContext(merged))
	}
	return resp, nil
}

// newVersion builds the version a put or delete writes.
func (n *Node) newVersion(ctx context.Context, token uint64, key, value, clientCtx []byte, tombstone bool, w int) (*kvpb.Version, error) {
	v := &kvpb.Version{Value: value, Tombstone: tombstone}
	switch n.cfg.Mode {
	case version.LWW:
		if _, err := version.DecodeContext(clientCtx); err != nil {
			return nil, invalid("%v", err)
		}
		v.Timestamp = n.clock.now()
		v.Writer = n.cfg.ID
	case version.Linearizable:
		if _, err := version.DecodeContext(clientCtx); err != nil {
			return nil, invalid("%v", err)
		}
		// ABD phase one: learn the highest tag from a read quorum. The read
		// quorum intersects every write quorum (R + W > N), so the new tag is
		// above every write that completed before this one began.
		got, _, _, err := n.quorumRead(ctx, token, key, n.cfg.R)
		if err != nil {
			// Nothing was written yet: the write certainly did not happen.
			return nil, unavailable("write not attempted: tag query: %v", status.Convert(err).Message())
		}
		v.Counter = version.Highest(n.cfg.Mode, mergeReplies(n.cfg.Mode, got)).GetCounter() + 1
		v.Writer = n.cfg.ID
	}
	return v, nil
}

func (n *Node) put(ctx context.Context, key, value, clientCtx []byte, tombstone bool, wOverride uint32) (*kvpb.PutResponse, error) {
	if err := n.checkKey(key); err != nil {
		return nil, err
	}
	if len(value) > n.cfg.MaxValueBytes {
		return nil, invalid("value is %d bytes; the limit is %d bytes (--max-value-bytes)", len(value), n.cfg.MaxValueBytes)
	}
	w, err := n.quorum(wOverride, n.cfg.W, "W")
	if err != nil {
		return nil, err
	}
	if n.cfg.Mode == version.VClock {
		return n.putVClock(ctx, key, value, clientCtx, tombstone, w, wOverride)
	}
	ctx, cancel := n.request(ctx)
	defer cancel()
	token := ring.Token(key)
	v, err := n.newVersion(ctx, token, key, value, clientCtx, tombstone, w)
	if err != nil {
		return nil, err
	}
	if err := n.quorumWrite(ctx, token, key, []*kvpb.Version{v}, w); err != nil {
		return nil, err
	}
	return &kvpb.PutResponse{}, nil
}

// putVClock coordinates a vclock write as Dynamo does: on a home replica,
// which applies the new version to its own copy first and then ships its
// whole resulting version set. That is what makes a clock entry (node: k)
// safe to read as "every event of node up to k": whoever holds the node's
// k-th write of a key got it together with the node's earlier writes of that
// key, or with versions that supersede them. A node that is not a home
// replica forwards the request to the first live one (sloppy, with none
// live: putVClockStandIn). Stand-ins for home replicas that are down get
// the same whole set, as hints.
func (n *Node) putVClock(ctx context.Context, key, value, clientCtx []byte, tombstone bool, w int, wOverride uint32) (*kvpb.PutResponse, error) {
	token := ring.Token(key)
	past, err := version.DecodeContext(clientCtx)
	if err != nil {
		return nil, invalid("%v", err)
	}
	if c := past.Get(n.cfg.ID); c > 0 {
		ok, err := n.counters.issued(c)
		if err != nil {
			return nil, unavailable("write not attempted: %v", err)
		}
		if !ok {
			return nil, invalid("context counter %d for node %s was never issued by it", c, n.cfg.ID)
		}
	}
	rctx, cancel := n.request(ctx)
	defer cancel()
	pl := n.place(rctx, token)
	if len(pl.Targets) < w {
		return nil, unavailable("write not attempted: %d of %d replicas reachable (%v), need W=%d", len(pl.Targets), len(pl.Home), pl.Targets, w)
	}
	if !slices.Contains(pl.Home, n.cfg.ID) || !n.replicaUsable() {
		// Not a home replica, or its replica is damaged or rebuilding.
		homes := pl.LiveHomes()
		if len(homes) == 0 {
			// Sloppy, and every home replica is down.
			return n.putVClockStandIn(rctx, token, key, value, past, tombstone, w, pl)
		}
		// The forwarded request gets its own full request timeout.
		fctx, fcancel := context.WithTimeout(ctx, 2*n.cfg.RequestTimeout)
		defer fcancel()
		p := n.peers.Get(homes[0])
		if p == nil {
			return nil, unavailable("write not attempted: no connection to %s", homes[0])
		}
		if tombstone {
			_, err = p.KV.Delete(fctx, &kvpb.DeleteRequest{Key: key, Context: clientCtx, W: wOverride})
		} else {
			_, err = p.KV.Put(fctx, &kvpb.PutRequest{Key: key, Value: value, Context: clientCtx, W: wOverride})
		}
		if err != nil {
			return nil, forwardError(homes[0], err, tombstone)
		}
		return &kvpb.PutResponse{}, nil
	}
	// The counter is taken under the key's lock, in the same step that
	// applies the version: two writes of one key through this node then
	// apply in counter order, so no set ever holds this node's k-th write
	// of the key without its earlier ones. Taken before the lock, the
	// 101st could be applied, shipped and read first, and a write with
	// that context would silently supersede the 100th.
	var cerr error
	set, err := n.store.Update(token, key, func(old *kvpb.VersionSet) (*kvpb.VersionSet, bool) {
		c, err := n.counters.take(past.Get(n.cfg.ID))
		if err != nil {
			cerr = err
			return old, false
		}
		v := &kvpb.Version{
			Value: value, Tombstone: tombstone,
			Clock: version.FromClock(past.Truncate(n.cfg.ClockTruncate)),
			Dot:   &kvpb.ClockEntry{Node: n.cfg.ID, Counter: c, Time: time.Now().UnixNano()},
		}
		merged, changed := version.Merge(n.cfg.Mode, old.GetVersions(), []*kvpb.Version{v})
		if err := n.checkGrowth(key, old.GetVersions(), merged); err != nil {
			cerr = err
			return old, false
		}
		return &kvpb.VersionSet{Versions: merged}, changed
	})
	if err != nil {
		return nil, unavailable("write not attempted: local apply: %v", err)
	}
	if cerr != nil {
		if _, ok := status.FromError(cerr); ok {
			return nil, cerr
		}
		return nil, unavailable("write not attempted: local apply: %v", cerr)
	}
	others := slices.DeleteFunc(slices.Clone(pl.Targets), func(id string) bool { return id == n.cfg.ID })
	if err := n.replicate(rctx, token, key, set.GetVersions(), others, pl, w, 1); err != nil {
		return nil, err
	}
	return &kvpb.PutResponse{}, nil
}

// putVClockStandIn coordinates a sloppy vclock write while every home
// replica is down. This node holds no copy of the key to ship whole, so the
// write gets an actor of its own ("<id>~<counter>", counter 1): no other
// version carries that actor, so no clock can claim to cover this write
// without having seen it, and shipping it alone loses nothing.
func (n *Node) putVClockStandIn(ctx context.Context, token uint64, key, value []byte, past vclock.Clock, tombstone bool, w int, pl placement.Placement) (*kvpb.PutResponse, error) {
	c, err := n.counters.take(0)
	if err != nil {
		return nil, unavailable("write not attempted: %v", err)
	}
	v := &kvpb.Version{
		Value: value, Tombstone: tombstone,
		Clock: version.FromClock(past.Truncate(n.cfg.ClockTruncate)),
		Dot:   &kvpb.ClockEntry{Node: n.cfg.ID + "~" + strconv.FormatUint(c, 10), Counter: 1, Time: time.Now().UnixNano()},
	}
	if err := n.replicate(ctx, token, key, []*kvpb.Version{v}, pl.Targets, pl, w, 0); err != nil {
		return nil, err
	}
	return &kvpb.PutResponse{}, nil
}
