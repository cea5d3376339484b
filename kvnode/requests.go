package kvnode

import (
	"context"
	"slices"
	"strconv"
	"time"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/placement"
	"github.com/quorumlab/quorumlab/kvnode/ring"
	"github.com/quorumlab/quorumlab/kvnode/vclock"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

// This file is what a client request does in each mode, on top of the
// coordinator's fan-out and quorums.

// checkGrowth refuses a version set that grows past the key's limits;
// a write that shrinks it (resolving siblings, or a delete with the read's
// context) always passes, so a key at its limit stays writable.
func (co *coordinator) checkGrowth(key []byte, old, merged []*kvpb.Version) error {
	if len(merged) > co.cfg.MaxSiblings && len(merged) > len(old) {
		return refused("key %q would have %d siblings; the limit is %d (--max-siblings): read it and write or delete with its context to resolve them", key, len(merged), co.cfg.MaxSiblings)
	}
	size := func(vs []*kvpb.Version) int {
		t := 0
		for _, v := range vs {
			t += proto.Size(v)
		}
		return t
	}
	if s := size(merged); s > co.cfg.MaxKeySetBytes && s > size(old) {
		return refused("key %q would hold %d bytes of versions; the limit is %d (--max-key-set-bytes): read it and write or delete with its context to resolve them", key, s, co.cfg.MaxKeySetBytes)
	}
	return nil
}

func checkKey(key []byte) error {
	if len(key) == 0 {
		return invalid("key is empty")
	}
	if len(key) > MaxKeyBytes {
		return invalid("key is %d bytes; the limit is %d bytes", len(key), MaxKeyBytes)
	}
	return nil
}

func (co *coordinator) get(ctx context.Context, req *kvpb.GetRequest) (*kvpb.GetResponse, error) {
	if err := checkKey(req.GetKey()); err != nil {
		return nil, err
	}
	r, err := co.quorum(req.GetR(), co.cfg.R, "R")
	if err != nil {
		return nil, err
	}
	ctx, cancel := co.request(ctx)
	defer cancel()
	key := req.GetKey()
	token := ring.Token(key)
	got, rest, pending, err := co.quorumRead(ctx, token, key, r)
	if err != nil {
		return nil, err
	}
	merged := mergeReplies(co.cfg.Mode, got)
	if co.cfg.Mode == version.Linearizable {
		// ABD: a read returns only a value a write quorum holds. Replies
		// that agree on the highest tag prove that only if there are at least
		// W of them (with R < W they never are); otherwise write it back.
		holding := 0
		for _, rp := range got {
			if version.SameTag(co.cfg.Mode, rp.set, merged) {
				holding++
			}
		}
		if holding < co.cfg.W && len(merged) > 0 {
			if err := co.quorumWrite(ctx, token, key, merged, co.cfg.W); err != nil {
				st := status.Convert(err)
				return nil, status.Errorf(st.Code(), "read write-back: %s", st.Message())
			}
			co.met.readRepairs.Inc()
		}
	} else {
		co.readRepair(ctx, token, key, merged, got, rest, pending)
	}
	resp := &kvpb.GetResponse{Values: version.Values(merged)}
	if co.cfg.Mode == version.VClock {
		resp.Context = version.EncodeContext(version.ReadContext(merged))
	}
	return resp, nil
}

// newVersion builds the version a put or delete writes.
func (co *coordinator) newVersion(ctx context.Context, token uint64, key, value, clientCtx []byte, tombstone bool, w int) (*kvpb.Version, error) {
	v := &kvpb.Version{Value: value, Tombstone: tombstone}
	switch co.cfg.Mode {
	case version.LWW:
		if _, err := version.DecodeContext(clientCtx); err != nil {
			return nil, invalid("%v", err)
		}
		v.Timestamp = co.clock.now()
		v.Writer = co.cfg.ID
	case version.Linearizable:
		if _, err := version.DecodeContext(clientCtx); err != nil {
			return nil, invalid("%v", err)
		}
		// ABD phase one: learn the highest tag from a read quorum. The read
		// quorum intersects every write quorum (R + W > N), so the new tag is
		// above every write that completed before this one began.
		got, _, _, err := co.quorumRead(ctx, token, key, co.cfg.R)
		if err != nil {
			// Nothing was written yet: the write certainly did not happen.
			return nil, unavailable("write not attempted: tag query: %v", status.Convert(err).Message())
		}
		v.Counter = version.Highest(co.cfg.Mode, mergeReplies(co.cfg.Mode, got)).GetCounter() + 1
		v.Writer = co.cfg.ID
	}
	return v, nil
}

func (co *coordinator) put(ctx context.Context, key, value, clientCtx []byte, tombstone bool, wOverride uint32) (*kvpb.PutResponse, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if len(value) > co.cfg.MaxValueBytes {
		return nil, invalid("value is %d bytes; the limit is %d bytes (--max-value-bytes)", len(value), co.cfg.MaxValueBytes)
	}
	w, err := co.quorum(wOverride, co.cfg.W, "W")
	if err != nil {
		return nil, err
	}
	if co.cfg.Mode == version.VClock {
		return co.putVClock(ctx, key, value, clientCtx, tombstone, w, wOverride)
	}
	ctx, cancel := co.request(ctx)
	defer cancel()
	token := ring.Token(key)
	v, err := co.newVersion(ctx, token, key, value, clientCtx, tombstone, w)
	if err != nil {
		return nil, err
	}
	if err := co.quorumWrite(ctx, token, key, []*kvpb.Version{v}, w); err != nil {
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
func (co *coordinator) putVClock(ctx context.Context, key, value, clientCtx []byte, tombstone bool, w int, wOverride uint32) (*kvpb.PutResponse, error) {
	token := ring.Token(key)
	past, err := version.DecodeContext(clientCtx)
	if err != nil {
		return nil, invalid("%v", err)
	}
	if c := past.Get(co.cfg.ID); c > 0 {
		ok, err := co.counters.issued(c)
		if err != nil {
			return nil, unavailable("write not attempted: %v", err)
		}
		if !ok {
			return nil, invalid("context counter %d for node %s was never issued by it", c, co.cfg.ID)
		}
	}
	rctx, cancel := co.request(ctx)
	defer cancel()
	pl := co.place(rctx, token)
	if len(pl.Targets) < w {
		return nil, unavailable("write not attempted: %d of %d replicas reachable (%v), need W=%d", len(pl.Targets), len(pl.Home), pl.Targets, w)
	}
	if !slices.Contains(pl.Home, co.cfg.ID) || !co.replica.usable() {
		// Not a home replica, or its replica is damaged or rebuilding.
		homes := pl.LiveHomes()
		if len(homes) == 0 {
			// Sloppy, and every home replica is down.
			return co.putVClockStandIn(rctx, token, key, value, past, tombstone, w, pl)
		}
		// The forwarded request gets its own full request timeout.
		fctx, fcancel := context.WithTimeout(ctx, 2*co.cfg.RequestTimeout)
		defer fcancel()
		p := co.peers.Get(homes[0])
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
	set, err := co.replica.update(token, key, func(old *kvpb.VersionSet) (*kvpb.VersionSet, bool) {
		c, err := co.counters.take(past.Get(co.cfg.ID))
		if err != nil {
			cerr = err
			return old, false
		}
		v := &kvpb.Version{
			Value: value, Tombstone: tombstone,
			Clock: version.FromClock(past.Truncate(co.cfg.ClockTruncate)),
			Dot:   &kvpb.ClockEntry{Node: co.cfg.ID, Counter: c, Time: time.Now().UnixNano()},
		}
		merged, changed := version.Merge(co.cfg.Mode, old.GetVersions(), []*kvpb.Version{v})
		if err := co.checkGrowth(key, old.GetVersions(), merged); err != nil {
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
	others := slices.DeleteFunc(slices.Clone(pl.Targets), func(id string) bool { return id == co.cfg.ID })
	if err := co.replicate(rctx, token, key, set.GetVersions(), others, pl, w, 1); err != nil {
		return nil, err
	}
	return &kvpb.PutResponse{}, nil
}

// putVClockStandIn coordinates a sloppy vclock write while every home
// replica is down. This node holds no copy of the key to ship whole, so the
// write gets an actor of its own ("<id>~<counter>", counter 1): no other
// version carries that actor, so no clock can claim to cover this write
// without having seen it, and shipping it alone loses nothing.
func (co *coordinator) putVClockStandIn(ctx context.Context, token uint64, key, value []byte, past vclock.Clock, tombstone bool, w int, pl placement.Placement) (*kvpb.PutResponse, error) {
	c, err := co.counters.take(0)
	if err != nil {
		return nil, unavailable("write not attempted: %v", err)
	}
	v := &kvpb.Version{
		Value: value, Tombstone: tombstone,
		Clock: version.FromClock(past.Truncate(co.cfg.ClockTruncate)),
		Dot:   &kvpb.ClockEntry{Node: co.cfg.ID + "~" + strconv.FormatUint(c, 10), Counter: 1, Time: time.Now().UnixNano()},
	}
	if err := co.replicate(ctx, token, key, []*kvpb.Version{v}, pl.Targets, pl, w, 0); err != nil {
		return nil, err
	}
	return &kvpb.PutResponse{}, nil
}
