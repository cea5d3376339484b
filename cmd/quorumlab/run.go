package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/quorumlab/quorumlab/cluster/launch"
	"github.com/quorumlab/quorumlab/cluster/local"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/kvnode/autoscale"
	"github.com/quorumlab/quorumlab/nemesis"
	"github.com/quorumlab/quorumlab/target"
	"github.com/quorumlab/quorumlab/workload"
)

// envKVNodeBin passes the kvnode binary to the re-executed harness.
const envKVNodeBin = "QUORUMLAB_KVNODE_BIN"

func runCmd(stdout io.Writer, log *slog.Logger, abort <-chan struct{}) *cobra.Command {
	cfg := harness.DefaultConfig()
	var faults, scale string
	var quiet bool
	var mo machineOutput
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Start a cluster, run a workload under faults, check the history",
		Long: `Start a cluster, run a workload under faults, check the history.

With no flags: 5 local nodes, N3 W2 R2, lww, register workload, partitions and
kills every ~10 s, for 60 s. Exit code 0 valid, 1 invalid, 2 unknown, 3 the
harness itself failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := resolveRunFlags(cmd, &cfg, faults, quiet); err != nil {
				return err
			}
			if scale != "" {
				a, err := autoscale.ParseSpec(scale, cfg.Cluster.N)
				if err != nil {
					return fmt.Errorf("--autoscale: %w", err)
				}
				cfg.Autoscale = &a
			}
			cfg.Abort = abort
			if err := harness.Validate(cfg); err != nil {
				return err
			}
			if mo.count < 1 {
				return fmt.Errorf("--test-count %d: must be at least 1", mo.count)
			}
			if cfg.Backend == "local" && !local.InNamespace() {
				// Find or build kvnode out here, where the module proxy is
				// reachable; the re-executed harness inherits the path.
				bin, err := launch.KVNodeBinary(cmd.Context(), cfg.Cluster.KVNodeBin, false)
				if err != nil {
					return err
				}
				os.Setenv(envKVNodeBin, bin)
				cfg.Cluster.KVNodeBin = bin
				// Run again inside a private user+network namespace, where
				// network faults are nftables rules that touch nothing else.
				code, err := local.Reexec(cmd.Context())
				if err == nil {
					return exitError{code}
				}
				if !errors.Is(err, local.ErrNoNamespace) {
					return err
				}
				log.Warn("running without a private network namespace: partitions and packet loss are unavailable", "reason", err)
			}
			return runTests(cmd.Context(), cfg, mo, stdout, func(ctx context.Context, c harness.Config) (harness.Outcome, error) {
				return harness.Run(ctx, c, log)
			})
		},
	}
	addRunFlags(cmd, &cfg, &faults, &quiet)
	f := cmd.Flags()
	f.StringVar(&scale, "autoscale", "", "add and decommission nodes by load, e.g. min=3,max=7,target-ops=1500 (requests/s per node; also up, down, p99, in-flight, sustain, cooldown, interval)")
	f.BoolVar(&mo.json, "json", false, "print the summary as one JSON object on stdout (with --test-count, one object with every run)")
	f.StringVar(&mo.junit, "junit", "", "also write a JUnit XML report to this file: a test case per checker, invalid as failure, unknown as error")
	f.IntVar(&mo.count, "test-count", 1, "run the test this many times, with seeds seed, seed+1, …; stops at the first invalid run unless --keep-going")
	f.BoolVar(&mo.keepGoing, "keep-going", false, "with --test-count: run every test even after an invalid one")
	f.IntVar(&cfg.Cluster.N, "n", cfg.Cluster.N, "replicas per key (N)")
	f.IntVar(&cfg.Cluster.W, "w", cfg.Cluster.W, "write quorum (W)")
	f.IntVar(&cfg.Cluster.R, "r", cfg.Cluster.R, "read quorum (R)")
	f.StringVar(&cfg.Cluster.Mode, "mode", cfg.Cluster.Mode, "consistency mode: lww, vclock or linearizable")
	f.BoolVar(&cfg.Cluster.Sloppy, "sloppy", false, "sloppy quorums with hinted handoff")
	f.StringVar(&cfg.Cluster.Target, "target", target.KVNode, "store under test: kvnode or etcd (Debian's etcd-server; the kvnode settings do not apply to it)")
	return cmd
}

// addRunFlags registers the flags `run` and `compare` share: the store, the
// backend, the cluster except its quorums and mode, the workload, the
// nemesis and the checker.
func addRunFlags(cmd *cobra.Command, cfg *harness.Config, faults *string, quiet *bool) {
	f := cmd.Flags()
	f.StringVar(&cfg.Test, "test", cfg.Test, "test name, the store subdirectory; the workload name unless given")
	f.StringVar(&cfg.Store, "store", cfg.Store, "root directory of stored runs")
	f.StringVar(&cfg.Backend, "backend", cfg.Backend, "cluster backend: local (processes in a private network namespace) or docker (containers; needs a Docker engine on this Linux host)")
	f.IntVar(&cfg.Cluster.Nodes, "nodes", cfg.Cluster.Nodes, "number of nodes")
	f.StringVar(&cfg.Cluster.ReadRepair, "read-repair", cfg.Cluster.ReadRepair, "read repair: async, sync or off")
	f.BoolVar(&cfg.Cluster.Fsync, "fsync", cfg.Cluster.Fsync, "nodes fsync before acknowledging writes")
	f.BoolVar(&cfg.TLS, "tls", false, "mutual TLS on every node port and encrypted gossip, under a CA made for the run")
	f.IntVar(&cfg.Cluster.VNodes, "vnodes", cfg.Cluster.VNodes, "virtual nodes per node")
	f.DurationVar(&cfg.Cluster.RequestTimeout, "request-timeout", cfg.Cluster.RequestTimeout, "coordinator deadline for replica replies")
	f.StringVar(&cfg.Cluster.KVNodeBin, "kvnode-bin", "", "kvnode binary (default: build it from this module, or find it next to quorumlab or in PATH)")
	f.StringVar(&cfg.Workload.Name, "workload", cfg.Workload.Name, "workload: register, set or ycsb")
	f.IntVar(&cfg.Workload.Keys, "keys", cfg.Workload.Keys, "number of keys (register, set)")
	f.IntVar(&cfg.Workload.WritersPerKey, "writers-per-key", 0, "1: each key has one writing client; a register's others read it (under lww the run is then held to no stale read after a completed write), a set's clients add only to their own keys (0: every client writes)")
	f.Float64Var(&cfg.Workload.DeleteRatio, "delete-ratio", 0, "share of set operations that delete the key, so later adds start a new set; deleted elements that come back are resurrected")
	f.DurationVar(&cfg.Cluster.TombstoneGrace, "tombstone-grace", 0, "kvnode's --tombstone-grace: how long a delete's tombstone is kept before it is collected (0: kvnode's default, 24h)")
	f.Float64Var(&cfg.Workload.CASRatio, "cas-ratio", 0, "share of register operations that are compare-and-set (targets with cas: etcd)")
	f.BoolVar(&cfg.EtcdSerializable, "etcd-serializable", false, "etcd: serializable reads, served by any member from what it has applied (may be stale); default linearizable")
	f.StringVar(&cfg.Workload.YCSB, "ycsb", cfg.Workload.YCSB, "ycsb core workload: a (50/50 read/update), b (95/5), c (read only), d (95/5 read/insert, latest) or f (50/50 read/read-modify-write)")
	f.IntVar(&cfg.Workload.Records, "records", cfg.Workload.Records, "keys the ycsb load phase inserts before the run")
	f.IntVar(&cfg.Workload.ValueSize, "value-size", cfg.Workload.ValueSize, "bytes per ycsb value (at most kvnode's 10240-byte limit)")
	f.StringVar(&cfg.Workload.Distribution, "distribution", cfg.Workload.Distribution, "ycsb key distribution: zipfian, uniform, latest or hotspot (default: latest for d, zipfian otherwise)")
	f.DurationVar(&cfg.Workload.Warmup, "warmup", cfg.Workload.Warmup, "first part of the run left out of the latency and throughput figures")
	f.IntVar(&cfg.Workload.Concurrency, "concurrency", cfg.Workload.Concurrency, "number of clients")
	f.Float64Var(&cfg.Workload.Rate, "rate", 0, "total target rate in ops/s, open loop, latencies corrected for coordinated omission (0: closed loop)")
	f.DurationVar(&cfg.Workload.TimeLimit, "time-limit", cfg.Workload.TimeLimit, "how long the workload runs")
	f.Var(profileFlag{&cfg.Workload}, "rate-profile", "open loop by phases, rate:duration, e.g. 500:30s,4000:60s,500:30s; sets the time limit")
	f.Uint64Var(&cfg.Workload.Seed, "seed", cfg.Workload.Seed, "seed of the workload and nemesis choices")
	f.DurationVar(&cfg.Workload.OpTimeout, "op-timeout", cfg.Workload.OpTimeout, "client deadline per operation; a write that times out is indeterminate")
	f.StringVar(faults, "nemesis", "partition,kill", "faults: some of partition,kill,pause,loss,delay,clock,strobe,power,membership,replace, or none")
	f.DurationVar(&cfg.Nemesis.Interval, "nemesis-interval", cfg.Nemesis.Interval, "mean time between faults and mean fault length (±50 %)")
	f.BoolVar(&cfg.Nemesis.Overlap, "nemesis-overlap", cfg.Nemesis.Overlap, "give each fault kind its own schedule, so faults of different kinds overlap (node faults never share a node)")
	f.StringVar(&cfg.Nemesis.Targets, "nemesis-targets", "", "nodes a kill, pause, clock, strobe or power fault takes: one, minority, majority or all (default: one of the first three each time)")
	f.StringVar(&cfg.Nemesis.Shape, "partition-shape", "", "isolate-one, halves, majorities-ring or bridge; or aimed at the keys' preference lists: home-replicas, key-primary, pref-minority, or at hints: hint-holder (default: one of the first four each time)")
	f.DurationVar(&cfg.Nemesis.Flap, "partition-flap", 0, "make each partition come and go every this often while it lasts (0: steady)")
	f.Float64Var(&cfg.Nemesis.LossRate, "loss-rate", cfg.Nemesis.LossRate, "share of packets a loss fault drops")
	f.DurationVar(&cfg.Nemesis.Delay, "delay", cfg.Nemesis.Delay, "how long a delay fault holds each packet between nodes (local backend)")
	f.DurationVar(&cfg.Nemesis.MaxSkew, "max-skew", cfg.Nemesis.MaxSkew, "largest clock offset of a clock fault, either direction")
	f.DurationVar(&cfg.CheckTimeout, "check-timeout", cfg.CheckTimeout, "bound on the linearizability check; past it the verdict is unknown")
	f.Var(byteSize{&cfg.CheckMemory}, "check-memory", "bound on the check's memory, e.g. 2GiB, by default half of this machine's memory, at most 4GiB; searches past it are unknown")
	f.DurationVar(&cfg.Recovery, "recovery", cfg.Recovery, "time the healed cluster gets before final reads (set workload)")
	f.StringArrayVar(&cfg.Cluster.ExtraArgs, "kvnode-arg", nil, "an extra flag for every kvnode serve, e.g. --kvnode-arg=--anti-entropy-interval=0 (repeatable)")
	f.IntVar(&cfg.ColdKeys, "cold-keys", 0, "fresh keys each ring change of the membership and replace faults writes once before it and reads back right after it, before rebalancing can hide a missed range (register and set; 0: none)")
	f.DurationVar(&cfg.ConvergenceWait, "convergence-wait", cfg.ConvergenceWait, "after the final reads, how long to wait for every key's home replicas (each read directly) to agree; still disagreeing is invalid (kvnode, register and set; 0: no check)")
	f.BoolVar(quiet, "quiet", false, "no progress output")
	f.BoolVar(&cfg.KeepData, "keep-data", cfg.KeepData, "keep the nodes' data dirs (local backend); an invalid run's are kept regardless")
}

// resolveRunFlags completes cfg from the flags addRunFlags registered.
func resolveRunFlags(cmd *cobra.Command, cfg *harness.Config, faults string, quiet bool) error {
	var err error
	if cfg.Nemesis.Faults, err = nemesis.ParseFaults(faults); err != nil {
		return err
	}
	if !cmd.Flags().Changed("test") {
		cfg.Test = cfg.Workload.Name
	}
	if cmd.Flags().Changed("rate-profile") && cmd.Flags().Changed("time-limit") && cfg.Workload.TimeLimit != workload.ProfileLength(cfg.Workload.RateProfile) {
		return fmt.Errorf("--time-limit %v: --rate-profile runs for %v", cfg.Workload.TimeLimit, workload.ProfileLength(cfg.Workload.RateProfile))
	}
	cfg.Nemesis.Seed = cfg.Workload.Seed
	cfg.Command = append([]string{"quorumlab"}, os.Args[1:]...)
	if !quiet {
		cfg.Progress = os.Stderr
	}
	if cfg.Cluster.KVNodeBin == "" {
		cfg.Cluster.KVNodeBin = os.Getenv(envKVNodeBin)
	}
	return nil
}

// profileFlag is --rate-profile: it sets the phases and the time limit.
type profileFlag struct{ w *workload.Config }

func (p profileFlag) String() string {
	if p.w == nil {
		return ""
	}
	var parts []string
	for _, ph := range p.w.RateProfile {
		parts = append(parts, fmt.Sprintf("%g:%v", ph.Rate, ph.For))
	}
	return strings.Join(parts, ",")
}

func (p profileFlag) Set(s string) error {
	phases, err := workload.ParseProfile(s)
	if err != nil {
		return err
	}
	p.w.RateProfile, p.w.TimeLimit = phases, workload.ProfileLength(phases)
	return nil
}

func (profileFlag) Type() string { return "profile" }
