package kvnode

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc/status"
)

// metrics live in a registry of the node's own, not the global default, so
// several nodes in one process (tests) do not collide.
type metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	replicaErrors *prometheus.CounterVec
	readRepairs   prometheus.Counter

	hintsStored    prometheus.Counter
	hintsDelivered prometheus.Counter
	hintsPending   prometheus.Gauge
	transferred    *prometheus.CounterVec
	aeRounds       *prometheus.CounterVec
	aeRepaired     prometheus.Counter
	ringChanges    prometheus.Counter
	tombstonesGC   prometheus.Counter
	wars           *prometheus.HistogramVec
	peerRefused    prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvnode_requests_total", Help: "Client requests coordinated by this node, by operation and gRPC status code.",
		}, []string{"op", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kvnode_request_duration_seconds", Help: "Latency of coordinated client requests.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"op"}),
		replicaErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvnode_replica_errors_total", Help: "Failed replica calls, by peer and operation.",
		}, []string{"peer", "op"}),
		readRepairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kvnode_read_repairs_total", Help: "Replica writes sent by read repair (and ABD read write-backs).",
		}),
	}
	m.hintsStored = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kvnode_hints_stored_total", Help: "Writes this node stored as a hint for a home replica that was down (sloppy quorum).",
	})
	m.hintsDelivered = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kvnode_hints_delivered_total", Help: "Hinted version sets delivered to their home replica and removed here.",
	})
	m.hintsPending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kvnode_hints_pending", Help: "Hinted version sets held for other nodes, as of the last handoff round.",
	})
	m.transferred = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kvnode_transferred_keys_total", Help: "Whole version sets moved between nodes, by reason (join: pulled by this joining node; decommission, rebalance: pushed by this node).",
	}, []string{"reason"})
	m.aeRounds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kvnode_anti_entropy_exchanges_total", Help: "Merkle tree exchanges with a peer, by result (in-sync, synced, error).",
	}, []string{"result"})
	m.aeRepaired = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kvnode_anti_entropy_repaired_keys_total", Help: "Keys whose local version set anti-entropy changed.",
	})
	m.ringChanges = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kvnode_ring_changes_total", Help: "Changes of this node's view of the ring membership.",
	})
	m.tombstonesGC = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kvnode_tombstones_collected_total", Help: "Deleted keys whose tombstones outlived the grace period and were removed from storage.",
	})
	m.peerRefused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kvnode_peer_calls_refused_total", Help: "Calls on the peer port refused for a missing or wrong peer token.",
	})
	m.reg.MustRegister(m.peerRefused)
	m.wars = newWARS()
	m.reg.MustRegister(m.wars)
	m.reg.MustRegister(m.hintsStored, m.hintsDelivered, m.hintsPending, m.transferred, m.aeRounds, m.aeRepaired, m.ringChanges, m.tombstonesGC)
	m.reg.MustRegister(m.requests, m.latency, m.replicaErrors, m.readRepairs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(op string, start time.Time, err error) {
	m.requests.WithLabelValues(op, status.Code(err).String()).Inc()
	m.latency.WithLabelValues(op).Observe(time.Since(start).Seconds())
}
