package harness

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/kvnode/autoscale"
	"github.com/quorumlab/quorumlab/kvnode/quorum"
	"github.com/quorumlab/quorumlab/nemesis"
	"github.com/quorumlab/quorumlab/target"
	"github.com/quorumlab/quorumlab/workload"
)

// Config is one test.
type Config struct {
	Test    string `json:"test"`
	Store   string `json:"store"`
	Backend string `json:"backend"`

	Cluster  cluster.Config  `json:"cluster"`
	Workload workload.Config `json:"workload"`
	Nemesis  nemesis.Config  `json:"nemesis"`

	// CheckTimeout bounds the linearizability check (0: none).
	CheckTimeout time.Duration `json:"check_timeout"`
	// CheckMemory bounds the process's memory during the check, in bytes
	// (0: none).
	CheckMemory int64 `json:"check_memory"`
	// KeepData keeps the nodes' data dirs of every run; an invalid run's
	// are kept regardless, as evidence.
	KeepData bool `json:"keep_data"`
	// Recovery is how long the healed cluster gets before the final reads.
	Recovery time.Duration `json:"recovery"`
	// ConvergenceWait bounds how long, after the final reads, the harness
	// waits for every touched key's home replicas to agree before it
	// records what each holds (kvnode, register and set; 0: no check).
	ConvergenceWait time.Duration `json:"convergence_wait"`
	// ColdKeys is how many fresh keys each ring change of the membership
	// and replace faults writes before it and reads back right after it
	// (register and set; 0: none).
	ColdKeys int `json:"cold_keys,omitempty"`
	// TLS runs the cluster with mutual TLS on every port and encrypted
	// gossip, under a CA made for the run (Cluster.Secrets, unless given).
	TLS bool `json:"tls"`
	// Autoscale, if set, runs an autoscaler during the workload: it adds
	// and decommissions nodes by the load it measures.
	Autoscale *autoscale.Config `json:"autoscale,omitempty"`
	// EtcdSerializable makes etcd reads serializable: each member answers
	// from what it has applied, possibly stale (etcd documents it).
	EtcdSerializable bool `json:"etcd_serializable,omitempty"`
	// Progress receives a progress line while the run goes (nil: none).
	Progress io.Writer `json:"-"`
	// Command is the command line that started the test, as typed; it
	// goes into test.json and the report.
	Command []string `json:"command,omitempty"`
	// Abort, once closed, cuts short what an interrupted run still does
	// (the check); teardown happens regardless.
	Abort <-chan struct{} `json:"-"`
}

// DefaultConfig is the test `quorumlab run` runs with no flags: 5 local
// nodes, N3 W2 R2 lww, a register workload, partitions and kills, 60 s.
func DefaultConfig() Config {
	return Config{
		Test:    "register",
		Store:   "store",
		Backend: "local",
		Cluster: cluster.Config{
			Nodes: 5, N: 3, W: 2, R: 2, Mode: "lww", ReadRepair: "async", Fsync: true,
			VNodes: 128, RequestTimeout: time.Second,
		},
		Workload:     workload.DefaultConfig(),
		Nemesis:      nemesis.DefaultConfig(),
		CheckTimeout: 5 * time.Minute,
		CheckMemory:  DefaultCheckMemory(),
		Recovery:     5 * time.Second,
		// Anti-entropy runs every 10 s by default: two rounds and room.
		ConvergenceWait: 30 * time.Second,
	}
}

// Validate checks every setting of cfg, so that a bad flag is refused
// before anything is started or written.
func Validate(cfg Config) error {
	if err := cfg.Workload.Validate(); err != nil {
		return err
	}
	if err := cfg.Nemesis.Validate(); err != nil {
		return err
	}
	c := cfg.Cluster
	if c.Nodes < 1 {
		return fmt.Errorf("nodes=%d: need at least one", c.Nodes)
	}
	feat, err := target.FeaturesOf(targetOf(cfg))
	if err != nil {
		return err
	}
	if cfg.Workload.CASRatio > 0 && !feat.CAS {
		return fmt.Errorf("--cas-ratio %v: %s has no compare-and-set", cfg.Workload.CASRatio, targetOf(cfg))
	}
	if cfg.EtcdSerializable && !c.Etcd() {
		return errors.New("--etcd-serializable is for --target etcd")
	}
	if singleWriter(cfg) && (slices.Contains(cfg.Nemesis.Faults, nemesis.Clock) || slices.Contains(cfg.Nemesis.Faults, nemesis.Strobe)) {
		return errors.New("--writers-per-key 1 under lww with --nemesis clock: lww orders writes by the coordinators' clocks, so skewed clocks may reorder even one writer's writes; drop the clock fault")
	}
	if slices.Contains(cfg.Nemesis.Faults, nemesis.Membership) && slices.Contains(cfg.Nemesis.Faults, nemesis.Replace) {
		return errors.New("--nemesis membership and replace both change the ring; one at a time")
	}
	if slices.Contains(cfg.Nemesis.Faults, nemesis.Delay) && cfg.Backend != "local" {
		return errors.New("--nemesis delay needs --backend local: the packets wait in an NFQUEUE the harness reads in its own network namespace")
	}
	if slices.Contains(cfg.Nemesis.Faults, nemesis.Power) && cfg.Backend != "local" {
		return errors.New("--nemesis power needs --backend local: the file system that loses unsynced writes runs in the harness's own mount namespace, which containers do not share")
	}
	if err := validateAutoscale(cfg); err != nil {
		return err
	}
	if c.Etcd() {
		return validateEtcd(cfg)
	}
	if err := quorum.Validate(c.Nodes, c.N, c.W, c.R, c.Mode == "linearizable"); err != nil {
		return err
	}
	switch c.Mode {
	case "lww", "vclock", "linearizable":
	default:
		return fmt.Errorf("unknown mode %q (want lww, vclock or linearizable)", c.Mode)
	}
	switch c.ReadRepair {
	case "async", "sync", "off":
	default:
		return fmt.Errorf("unknown read repair %q (want async, sync or off)", c.ReadRepair)
	}
	if c.VNodes < 1 {
		return fmt.Errorf("vnodes=%d: need at least one", c.VNodes)
	}
	if c.TombstoneGrace < 0 {
		return fmt.Errorf("tombstone grace %v: must not be negative", c.TombstoneGrace)
	}
	if c.RequestTimeout <= 0 {
		return fmt.Errorf("request timeout %v: must be positive", c.RequestTimeout)
	}
	return cfg.validateCommon()
}

// validateCommon checks the settings every target shares.
func (cfg Config) validateCommon() error {
	if cfg.CheckTimeout < 0 {
		return fmt.Errorf("check timeout %v: must not be negative (0: none)", cfg.CheckTimeout)
	}
	if cfg.CheckMemory < 0 {
		return fmt.Errorf("check memory %d: must not be negative (0: none)", cfg.CheckMemory)
	}
	if cfg.ColdKeys < 0 {
		return fmt.Errorf("cold keys %d: must not be negative", cfg.ColdKeys)
	}
	if cfg.ColdKeys > 0 && !slices.Contains(cfg.Nemesis.Faults, nemesis.Membership) && !slices.Contains(cfg.Nemesis.Faults, nemesis.Replace) {
		return fmt.Errorf("--cold-keys %d: cold keys are written around ring changes; add --nemesis membership or replace", cfg.ColdKeys)
	}
	if c := cfg.Cluster; cfg.ColdKeys > 0 && !c.Etcd() && (c.R+c.W <= c.N || c.Sloppy) {
		return fmt.Errorf("--cold-keys %d with N=%d W=%d R=%d%s: a cold key is read once right after a ring change, and only strict quorums (R + W > N, not sloppy) promise that read sees the write", cfg.ColdKeys, c.N, c.W, c.R, map[bool]string{true: " sloppy"}[c.Sloppy])
	}
	if cfg.ColdKeys > 0 && cfg.Workload.Name != workload.Register && cfg.Workload.Name != workload.Set {
		return fmt.Errorf("--cold-keys %d: for the register and set workloads", cfg.ColdKeys)
	}
	if cfg.ConvergenceWait < 0 {
		return fmt.Errorf("convergence wait %v: must not be negative (0: no check)", cfg.ConvergenceWait)
	}
	if cfg.Recovery < 0 {
		return fmt.Errorf("recovery %v: must not be negative", cfg.Recovery)
	}
	if len(cfg.Nemesis.Faults) > 0 && cfg.Workload.TimeLimit < cfg.Nemesis.Interval/2 {
		return fmt.Errorf("time limit %v is shorter than the shortest gap before a first fault (%v, half the nemesis interval): no fault could take effect; shorten --nemesis-interval", cfg.Workload.TimeLimit, cfg.Nemesis.Interval/2)
	}
	if err := validateRingShape(cfg); err != nil {
		return err
	}
	if sh := cfg.Nemesis.Shape; sh != "" && slices.Contains(nemesis.Shapes(), sh) && slices.Contains(cfg.Nemesis.Faults, nemesis.Partition) && nemesis.CutsNothing(sh, cfg.Cluster.Nodes) {
		return fmt.Errorf("--partition-shape %s cuts nothing on %d nodes: every node would still reach every other", sh, cfg.Cluster.Nodes)
	}
	return nil
}

// validateEtcd refuses what an etcd run cannot do: kvnode's admin faults,
// and on the local backend, network faults (see cluster/local).
func validateEtcd(cfg Config) error {
	for _, f := range cfg.Nemesis.Faults {
		switch f {
		case nemesis.Power:
			return errors.New("--nemesis power: not for etcd, whose bbolt maps its file into memory, which the power-loss file system (direct I/O) refuses")
		case nemesis.Clock, nemesis.Strobe, nemesis.Membership, nemesis.Replace:
			return fmt.Errorf("--nemesis %s: not for etcd, which has no kvnode admin API (clock offsets, joins, decommissions)", f)
		case nemesis.Delay:
			return errors.New("--nemesis delay: not for etcd (the local backend's one namespace cannot tell etcd members apart, and the docker backend has no packet delay)")
		case nemesis.Partition, nemesis.Loss:
			if cfg.Backend != "docker" {
				return fmt.Errorf("--nemesis %s on etcd needs --backend docker: in the local backend's one namespace etcd members dial each other from 127.0.0.1, so a rule cannot tell them apart", f)
			}
		}
	}
	return cfg.validateCommon()
}

// singleWriter reports whether a run is checked against the single-writer
// register model: lww with one writer per key. Under linearizable mode the
// full check applies, and vclock's blind writes make siblings regardless.
func singleWriter(cfg Config) bool {
	return cfg.Workload.WritersPerKey == 1 && cfg.Cluster.Mode == "lww" && !cfg.Cluster.Etcd()
}

// clientOptions are the workload clients' settings.
func clientOptions(cfg Config) target.Options {
	return target.Options{Timeout: cfg.Workload.OpTimeout, AdminToken: cfg.Cluster.AdminToken,
		TLS: cfg.Cluster.Secrets.ClientTLS(), Serializable: cfg.EtcdSerializable}
}

// targetOf is the run's target name.
func targetOf(cfg Config) string {
	if cfg.Cluster.Target == "" {
		return target.KVNode
	}
	return cfg.Cluster.Target
}
