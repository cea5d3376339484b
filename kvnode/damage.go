package kvnode

import (
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

// A damaged store (storage.DamageError: synced writes lost from the WAL,
// corruption read from an SST, an undecodable record) is never served: the
// node keeps running so an operator sees it (log, kvnode_store_damaged,
// `kvnode status`), coordinates requests with its peers' replicas, and
// answers every replica call with FAILED_PRECONDITION, so peers count it as
// a failing replica, never as an empty one. A node rebuilding its ranges
// (--recover-from-peers) takes replica writes but serves no replica reads
// until it is done.

// watchStore reports damage found now or later, exports it as metrics and
// prepares a recovery if configured.
func (n *Node) watchStore() error {
	damaged := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kvnode_store_damaged", Help: "1 if this node's store is damaged (lost synced writes or corrupt on disk) and not served; see kvnode status.",
	}, func() float64 {
		if n.store.Damage() != nil {
			return 1
		}
		return 0
	})
	corruptions := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "kvnode_store_corruption_errors_total", Help: "Corruption errors this node's store met (checksum mismatches, undecodable records, a WAL that lost synced writes).",
	}, func() float64 { return float64(n.store.Corruptions()) })
	recovering := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kvnode_store_recovering", Help: "1 while this node rebuilds its ranges from its replicas (--recover-from-peers).",
	}, func() float64 {
		if n.recovering.Load() {
			return 1
		}
		return 0
	})
	n.met.reg.MustRegister(damaged, corruptions, recovering)
	n.store.NotifyDamage(func(err error) {
		n.log.Error("store damaged: this node serves no replica requests; restart it with --recover-from-peers to rebuild it from its replicas",
			"data_dir", n.cfg.DataDir, "damage", err.Error())
	})
	if n.cfg.RecoverFromPeers {
		return n.prepareRecovery()
	}
	return nil
}

// replicaUsable reports whether this node's own replica can serve reads
// and writes now.
func (n *Node) replicaUsable() bool {
	return n.store.Damage() == nil && !n.recovering.Load()
}

// replicaRefusal returns the error for a replica call this node must not
// serve: any on a damaged store, reads while it recovers.
func (n *Node) replicaRefusal(write bool) error {
	if err := n.store.Damage(); err != nil {
		return withReason(codes.FailedPrecondition, kvpb.ReasonStoreDamaged,
			"replica %s: %v; it serves no replica requests: restart it with --recover-from-peers to rebuild it from its replicas (the damaged data dir is kept aside)",
			n.cfg.ID, err)
	}
	if !write && n.recovering.Load() {
		return status.Errorf(codes.Unavailable, "replica %s is rebuilding its ranges from its replicas (--recover-from-peers) and serves no reads yet", n.cfg.ID)
	}
	return nil
}

// damageStatus is the store's damage for `kvnode status`.
func (n *Node) damageStatus() string {
	if err := n.store.Damage(); err != nil {
		return err.Error()
	}
	return ""
}
