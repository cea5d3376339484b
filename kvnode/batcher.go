package kvnode

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

// maxBatchWrites bounds one WriteBatch call, sent and accepted.
const maxBatchWrites = 512

// batcher coalesces the replica writes a coordinator sends one peer: one
// call is in flight at a time, and the writes queued meanwhile all go in
// the next, which the replica applies in one synced commit. Under load that
// turns a call and an fsync per write into one per batch; a lone write
// goes at once, as before. A write's caller waits for the call that carried
// it or for its own deadline, whichever comes first: either way an error
// leaves the write indeterminate, as a single call's would. The call runs
// until the latest deadline among its writes, so a write may still be
// applied after its own caller gave up on it, which indeterminate allows.
type batcher struct {
	// send makes one call; it returns the response header (WARS stamps).
	send func(ctx context.Context, b *kvpb.ReplicaWriteBatch) (metadata.MD, error)
	// maxBytes bounds a call's writes (one is always sent, however large),
	// below the peer's message limit.
	maxBytes int
	// timeout bounds a call carrying a write without a deadline.
	timeout time.Duration
	// stop and bg are the node's: a call in flight is cut short, and the
	// sender waited for, at Close.
	stop context.Context
	bg   *sync.WaitGroup

	mu      sync.Mutex
	queue   []*queued
	sending bool
}

type queued struct {
	req      *kvpb.ReplicaWriteRequest
	at       time.Time
	deadline time.Time // zero: none
	done     chan batchResult
}

type batchResult struct {
	hdr metadata.MD
	err error
}

// write queues req and waits for its batch to be answered or ctx to end.
func (b *batcher) write(ctx context.Context, req *kvpb.ReplicaWriteRequest) (metadata.MD, error) {
	q := &queued{req: req, at: time.Now(), done: make(chan batchResult, 1)}
	q.deadline, _ = ctx.Deadline()
	b.mu.Lock()
	b.queue = append(b.queue, q)
	start := !b.sending
	b.sending = true
	b.mu.Unlock()
	if start {
		b.bg.Add(1)
		go b.loop()
	}
	select {
	case r := <-q.done:
		return r.hdr, r.err
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// loop sends batches until the queue is empty.
func (b *batcher) loop() {
	defer b.bg.Done()
	for {
		b.mu.Lock()
		n, size := 0, 0
		for n < len(b.queue) && n < maxBatchWrites {
			size += proto.Size(b.queue[n].req)
			if n > 0 && size > b.maxBytes {
				break
			}
			n++
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		if n == 0 {
			b.sending = false
			b.queue = nil
		}
		b.mu.Unlock()
		if n == 0 {
			return
		}
		b.flush(batch)
	}
}

// flush sends one batch, without the writes whose callers gave up, under
// the latest deadline among the rest.
func (b *batcher) flush(batch []*queued) {
	now := time.Now()
	req := &kvpb.ReplicaWriteBatch{}
	var live []*queued
	var deadline time.Time
	for _, q := range batch {
		if !q.deadline.IsZero() && !q.deadline.After(now) {
			q.done <- batchResult{err: status.Error(codes.DeadlineExceeded, "deadline passed while queued")}
			continue
		}
		live = append(live, q)
		req.Writes = append(req.Writes, q.req)
		req.QueuedUnixNs = append(req.QueuedUnixNs, q.at.UnixNano())
		dl := q.deadline
		if dl.IsZero() {
			dl = now.Add(b.timeout)
		}
		if dl.After(deadline) {
			deadline = dl
		}
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithDeadline(b.stop, deadline)
	hdr, err := b.send(ctx, req)
	cancel()
	for _, q := range live {
		q.done <- batchResult{hdr: hdr, err: err}
	}
}
