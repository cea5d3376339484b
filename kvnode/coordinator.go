package kvnode

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/peer"
	"github.com/quorumlab/quorumlab/kvnode/placement"
	"github.com/quorumlab/quorumlab/kvnode/quorum"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

// coordinator runs client requests: where they go, the fan-out to the
// replicas, quorums and read repair. It reaches the replicas through the
// peer set and the node's own replica, and knows nothing of the node.
type coordinator struct {
	cfg      Config
	log      *slog.Logger
	met      *metrics
	ring     *ringManager
	peers    *peer.Set
	replica  *replica
	clock    *lwwClock
	counters *counters
	// bg and stop are the node's: calls outliving a request are waited
	// for, and cut short, at Close.
	bg   *sync.WaitGroup
	stop context.Context

	batchMu  sync.Mutex
	batchers map[string]*batcher // by peer id
	single   map[string]bool     // peers without WriteBatch
}

// batcherFor is the batcher of writes to peer id. Batchers are kept for
// every id ever written to: a handful, and none holds a goroutine while
// idle.
func (co *coordinator) batcherFor(id string) *batcher {
	co.batchMu.Lock()
	defer co.batchMu.Unlock()
	if b := co.batchers[id]; b != nil {
		return b
	}
	b := &batcher{stop: co.stop, bg: co.bg, maxBytes: co.cfg.maxMsg() / 2, timeout: co.cfg.RequestTimeout,
		send: func(ctx context.Context, req *kvpb.ReplicaWriteBatch) (metadata.MD, error) {
			p := co.peers.Get(id)
			if p == nil {
				return nil, fmt.Errorf("no connection to %s", id)
			}
			var hdr metadata.MD
			_, err := p.Replica.WriteBatch(ctx, req, grpc.Header(&hdr))
			return hdr, err
		}}
	if co.batchers == nil {
		co.batchers = map[string]*batcher{}
	}
	co.batchers[id] = b
	return b
}

// unbatched marks peer id as one without WriteBatch (an older kvnode): its
// writes go one call each from now on.
func (co *coordinator) unbatched(id string) {
	co.batchMu.Lock()
	defer co.batchMu.Unlock()
	if co.single == nil {
		co.single = map[string]bool{}
	}
	co.single[id] = true
}

func (co *coordinator) isUnbatched(id string) bool {
	co.batchMu.Lock()
	defer co.batchMu.Unlock()
	return co.single[id]
}

// live reports whether a replica can be sent a request now. Writes are only
// sent if at least W replicas are live, so a write that fails for want of
// replicas certainly did not happen.
func (co *coordinator) live(ctx context.Context, id string) bool {
	if id == co.cfg.ID {
		return co.replica.usable()
	}
	return co.peers.Live(ctx, id)
}

func (co *coordinator) quorum(override uint32, def int, name string) (int, error) {
	if override == 0 {
		return def, nil
	}
	if int(override) > co.cfg.N {
		return 0, invalid("%s=%d: must be between 1 and N=%d", name, override, co.cfg.N)
	}
	q := int(override)
	if co.cfg.Mode == version.Linearizable {
		other := co.cfg.R
		if name == "R" {
			other = co.cfg.W
		}
		if err := quorum.Overlap(co.cfg.N, q, other, true); err != nil {
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
func (co *coordinator) request(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, co.cfg.RequestTimeout)
}

// fanout runs f against each replica in parallel. The calls outlive the
// client's request (bounded by the request timeout) so that replicas beyond
// the quorum still get the write and late replies can drive read repair.
func (co *coordinator) fanout(ctx context.Context, ids []string, f func(ctx context.Context, id string) reply) <-chan reply {
	ch := make(chan reply, len(ids))
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(co.cfg.RequestTimeout)
	}
	bctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), dl)
	stop := context.AfterFunc(co.stop, cancel)
	var left = len(ids)
	done := make(chan struct{}, len(ids))
	for _, id := range ids {
		co.bg.Add(1)
		go func() {
			defer co.bg.Done()
			ch <- f(bctx, id)
			done <- struct{}{}
		}()
	}
	co.bg.Add(1)
	go func() {
		defer co.bg.Done()
		for ; left > 0; left-- {
			<-done
		}
		stop()
		cancel()
	}()
	return ch
}

func (co *coordinator) readReplica(ctx context.Context, id string, token uint64, key []byte, standIn bool) reply {
	if id == co.cfg.ID {
		start := time.Now()
		set, err := co.replica.read(token, key, standIn)
		co.met.local(start, "s", "r")
		return reply{id: id, set: set, err: err, standIn: standIn}
	}
	p := co.peers.Get(id)
	if p == nil {
		return reply{id: id, err: fmt.Errorf("no connection to %s", id), standIn: standIn}
	}
	var hdr metadata.MD
	resp, err := p.Replica.Read(stampSent(ctx), &kvpb.ReplicaReadRequest{Key: key, IncludeHints: standIn}, grpc.Header(&hdr))
	if err != nil {
		co.met.replicaErrors.WithLabelValues(id, "read").Inc()
	} else {
		co.met.answered(hdr, "s")
	}
	return reply{id: id, set: resp.GetSet().GetVersions(), err: err, standIn: standIn}
}

// writeReplica sends vs to one replica; hintFor, if set, makes it a hint
// kept for that home replica.
func (co *coordinator) writeReplica(ctx context.Context, id string, token uint64, key []byte, vs []*kvpb.Version, hintFor string) reply {
	if id == co.cfg.ID {
		if hintFor != "" {
			return reply{id: id, err: co.replica.hint(hintFor, token, key, vs)}
		}
		start := time.Now()
		err := co.replica.apply(token, key, vs)
		co.met.local(start, "w", "a")
		return reply{id: id, err: err}
	}
	req := &kvpb.ReplicaWriteRequest{Key: key, Set: &kvpb.VersionSet{Versions: vs}, HintFor: hintFor}
	var hdr metadata.MD
	var err error
	if !co.isUnbatched(id) {
		hdr, err = co.batcherFor(id).write(ctx, req)
		if status.Code(err) == codes.Unimplemented {
			co.unbatched(id) // nothing of the batch was applied: resend alone
		}
	}
	if co.isUnbatched(id) {
		hdr = nil
		if p := co.peers.Get(id); p == nil {
			err = fmt.Errorf("no connection to %s", id)
		} else {
			_, err = p.Replica.Write(stampSent(ctx), req, grpc.Header(&hdr))
		}
	}
	if err != nil {
		co.met.replicaErrors.WithLabelValues(id, "write").Inc()
	} else if hintFor == "" {
		co.met.answered(hdr, "a")
	}
	return reply{id: id, err: err}
}

// place computes where a request for token goes, on the current view.
func (co *coordinator) place(ctx context.Context, token uint64) placement.Placement {
	return placement.Place(co.ring.View(), token, co.cfg.N, co.cfg.Sloppy, func(id string) bool { return co.live(ctx, id) })
}

// quorumWrite sends vs to the key's live replicas (and, sloppy, stand-ins)
// and waits for w acks. Fewer than w targets: nothing is sent and the error
// is Unavailable (the write certainly did not happen). Sent but fewer than
// w acks by the deadline: the error is indeterminate.
func (co *coordinator) quorumWrite(ctx context.Context, token uint64, key []byte, vs []*kvpb.Version, w int) error {
	pl := co.place(ctx, token)
	if len(pl.Targets) < w {
		return unavailable("write not attempted: %d of %d replicas reachable (%v), need W=%d", len(pl.Targets), len(pl.Home), pl.Targets, w)
	}
	return co.replicate(ctx, token, key, vs, pl.Targets, pl, w, 0)
}

// replicate sends vs to ids and to pl's pending replicas, and returns once
// acks from ids (counting those already made) reach w. Pending replicas
// never count: they may be catching up.
func (co *coordinator) replicate(ctx context.Context, token uint64, key []byte, vs []*kvpb.Version, ids []string, pl placement.Placement, w, acks int) error {
	all := append(slices.Clone(ids), pl.Pending...)
	if len(all) == 0 {
		if acks >= w {
			return nil
		}
		return indeterminate("write acknowledged by %d of W=%d replicas", acks, w)
	}
	// This node's own copy, when it counts, is written inline once the
	// others are on their way rather than on a goroutine of its own. The
	// local write takes no deadline: a stalled disk holds the request past
	// it, and the client's own deadline makes the write indeterminate.
	remote := all
	if acks < w && slices.Contains(ids, co.cfg.ID) {
		remote = slices.DeleteFunc(slices.Clone(all), func(id string) bool { return id == co.cfg.ID })
	}
	ch := co.fanout(ctx, remote, func(ctx context.Context, id string) reply {
		return co.writeReplica(ctx, id, token, key, vs, pl.HintFor[id])
	})
	if acks >= w {
		return nil // the rest replicate in the background
	}
	counted := len(ids)
	failed := 0
	var lastErr error
	// take counts one reply; done once the outcome is known.
	take := func(r reply) (done bool, err error) {
		if !slices.Contains(ids, r.id) {
			return false, nil
		}
		if r.err == nil {
			acks++
			return acks >= w, nil
		}
		failed++
		lastErr = r.err
		if acks+counted-failed < w {
			return true, indeterminate("write reached %d of W=%d replicas; %d failed (last: %v)", acks, w, failed, lastErr)
		}
		return false, nil
	}
	if len(remote) < len(all) {
		if done, err := take(co.writeReplica(ctx, co.cfg.ID, token, key, vs, pl.HintFor[co.cfg.ID])); done {
			return err
		}
	}
	for range remote {
		select {
		case r := <-ch:
			if done, err := take(r); done {
				return err
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
func (co *coordinator) quorumRead(ctx context.Context, token uint64, key []byte, r int) ([]reply, <-chan reply, int, error) {
	pl := co.place(ctx, token)
	live := pl.Targets
	if len(live) < r {
		return nil, nil, 0, unavailable("read not attempted: %d of %d replicas reachable (%v), need R=%d", len(live), len(pl.Home), live, r)
	}
	ch := co.fanout(ctx, live, func(ctx context.Context, id string) reply {
		return co.readReplica(ctx, id, token, key, pl.HintFor[id] != "")
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
func (co *coordinator) repair(ctx context.Context, token uint64, key []byte, merged []*kvpb.Version, rs []reply) {
	// A replica that collected an expired tombstone is not given it back.
	collected := version.Expired(co.cfg.Mode, merged, co.cfg.tombstoneCutoff())
	for _, r := range rs {
		if r.standIn || (collected && len(r.set) == 0) {
			continue
		}
		if _, changed := version.Merge(co.cfg.Mode, r.set, merged); !changed {
			continue
		}
		co.met.readRepairs.Inc()
		if rr := co.writeReplica(ctx, r.id, token, key, merged, ""); rr.err != nil {
			co.log.Debug("read repair failed", "replica", r.id, "key", string(key), "err", rr.err)
		}
	}
}

// readRepair repairs the replicas that replied (sync mode: before the read
// returns) and, in the background, the ones that reply late.
func (co *coordinator) readRepair(ctx context.Context, token uint64, key []byte, merged []*kvpb.Version, got []reply, rest <-chan reply, pending int) {
	if co.cfg.ReadRepair == ReadRepairOff || co.cfg.Mode == version.Linearizable {
		return
	}
	if co.cfg.ReadRepair == ReadRepairSync {
		co.repair(ctx, token, key, merged, got)
		got = nil
	}
	co.bg.Add(1)
	go func() {
		defer co.bg.Done()
		ctx, cancel := context.WithTimeout(co.stop, co.cfg.RequestTimeout)
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
			full, _ = version.Merge(co.cfg.Mode, full, r.set)
		}
		co.repair(ctx, token, key, full, append(all, late...))
	}()
}
