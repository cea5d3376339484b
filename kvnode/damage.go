package kvnode

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
		if n.replica.recovering.Load() {
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

// prepareRecovery marks the replica recovering and reserves counters
// from the wall-clock floor before anything can issue one.
func (n *Node) prepareRecovery() error {
	n.replica.recovering.Store(true)
	if err := n.counters.raise(uint64(time.Now().UnixMicro())); err != nil {
		return fmt.Errorf("recover: reserve counters: %w", err)
	}
	return nil
}
