package kvnode

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

// One-way replica latencies, as PBS's WARS model names them: w, the write
// reaching a replica; a, its ack coming back; r, a read request reaching a
// replica; s, its response coming back. The sender stamps its wall clock in
// the request's metadata and the replica its own in the response header,
// so each leg is one clock reading minus another. That is exact only when
// the nodes share a clock: processes of one host do, and so do containers,
// which read the host kernel's clock. Between hosts the legs carry the
// clocks' offset.
const (
	warsSentKey  = "kvnode-sent-unix-ns"
	warsReplyKey = "kvnode-reply-unix-ns"
)

// WARSMetric is the histogram of the four legs, in seconds, labelled leg.
const WARSMetric = "kvnode_wars_seconds"

func newWARS() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: WARSMetric,
		Help: "One-way replica latencies by WARS leg: w write to replica, a ack back, r read to replica, s response back (same-clock nodes only).",
		// 5 µs to 10 s, 8 % apart: fine enough to sample from.
		Buckets: prometheus.ExponentialBucketsRange(5e-6, 10, 190),
	}, []string{"leg"})
}

// stampSent marks an outgoing replica call with its send time.
func stampSent(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, warsSentKey, strconv.FormatInt(time.Now().UnixNano(), 10))
}

// reached records the request leg of an incoming replica call, w or r,
// and stamps the response with the same instant: for a read, when the
// replica reads (its arrival); for a write, when the write became visible
// there (after it is applied). The response leg then covers the rest.
func (m *metrics) reached(ctx context.Context, leg string) {
	now := time.Now()
	md, _ := metadata.FromIncomingContext(ctx)
	if sent, ok := unixNs(md.Get(warsSentKey)); ok {
		m.wars.WithLabelValues(leg).Observe(max(now.Sub(sent), 0).Seconds())
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs(warsReplyKey, strconv.FormatInt(now.UnixNano(), 10)))
}

// reachedBatch is reached for a batch of writes, each of which left its
// coordinator's queue at its own time (hints are not counted: they are not
// visible to reads).
func (m *metrics) reachedBatch(ctx context.Context, ws []*kvpb.ReplicaWriteRequest, queued []int64) {
	now := time.Now()
	for i, w := range ws {
		if i < len(queued) && queued[i] > 0 && w.GetHintFor() == "" {
			m.wars.WithLabelValues("w").Observe(max(now.Sub(time.Unix(0, queued[i])), 0).Seconds())
		}
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs(warsReplyKey, strconv.FormatInt(now.UnixNano(), 10)))
}

// answered records the response leg (a or s) of a replica call whose
// header was hdr.
func (m *metrics) answered(hdr metadata.MD, leg string) {
	if sent, ok := unixNs(hdr.Get(warsReplyKey)); ok {
		m.wars.WithLabelValues(leg).Observe(max(time.Since(sent), 0).Seconds())
	}
}

// local records a replica call the coordinator served itself, which took
// from start until now: that time goes to leg busy (w for a write, which is
// visible once applied; s for a read, which reads at once) and nothing to
// leg idle.
func (m *metrics) local(start time.Time, busy, idle string) {
	m.wars.WithLabelValues(busy).Observe(time.Since(start).Seconds())
	m.wars.WithLabelValues(idle).Observe(0)
}

func unixNs(vs []string) (time.Time, bool) {
	if len(vs) != 1 {
		return time.Time{}, false
	}
	ns, err := strconv.ParseInt(vs[0], 10, 64)
	if err != nil || ns <= 0 {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}
