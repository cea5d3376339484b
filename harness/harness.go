// Package harness runs one test end to end: it starts a cluster, drives the
// workload and the nemesis, heals, makes the final reads, checks the history
// and stores the results. It is the wiring between the packages that each do
// one of those things.
package harness

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/admin"
	"github.com/quorumlab/quorumlab/cluster/docker"
	"github.com/quorumlab/quorumlab/cluster/local"
	"github.com/quorumlab/quorumlab/cluster/secrets"
	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/internal/ctxtime"
	"github.com/quorumlab/quorumlab/internal/sysmem"
	"github.com/quorumlab/quorumlab/kvnode/autoscale"
	"github.com/quorumlab/quorumlab/kvnode/quorum"
	"github.com/quorumlab/quorumlab/nemesis"
	"github.com/quorumlab/quorumlab/results"
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

// note writes one progress line, if progress is wanted.
func note(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// interruptedCheck bounds the check of an interrupted run: it checks what
// was recorded, but its user is waiting.
const interruptedCheck = 30 * time.Second

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

// Outcome is what a run produced.
type Outcome struct {
	Dir     string
	Results checker.Results
	// Interrupted is set when ctx ended the run early; the results cover
	// the history recorded until then.
	Interrupted bool
	// ClusterStart is the wall time from starting the nodes until every node
	// saw every other as alive.
	ClusterStart time.Duration
}

// testRecord is test.json: every setting, the seed, versions.
type testRecord struct {
	Config
	Started   time.Time `json:"started"`
	GoVersion string    `json:"go_version"`
	Module    string    `json:"module_version"`
	// ClusterStart is how long the cluster took to start and form, in s.
	ClusterStart float64 `json:"cluster_start_s,omitempty"`
}

// Run runs one test. Errors are failures of the harness itself (the cluster
// would not start, the store is not writable); a test that finds a bug is
// not an error: see the verdict in the outcome.
func Run(ctx context.Context, cfg Config, log *slog.Logger) (out Outcome, err error) {
	if err := Validate(cfg); err != nil {
		return Outcome{}, err
	}
	// Blind ycsb updates would pile up siblings under vclock.
	cfg.Workload.ReadBeforeUpdate = cfg.Cluster.Mode == "vclock"
	dir, err := results.NewRunDir(cfg.Store, cfg.Test, time.Now())
	if err != nil {
		return Outcome{}, err
	}
	out.Dir = dir
	defer func() {
		// Interrupted before anything was recorded: say so where a reader
		// looks, rather than leave a run with no results at all.
		if out.Results.Verdict == "" && ctx.Err() != nil {
			out.Interrupted = true
			out.Results = checker.Results{Schema: checker.ResultsSchema, Verdict: checker.Unknown, Interrupted: true, Error: "interrupted before any operation was recorded"}
			if werr := results.Write(dir, out.Results); werr != nil {
				err = errors.Join(err, werr)
			}
			return
		}
		if out.Results.Verdict != "" {
			if lerr := results.MarkLatest(cfg.Store, dir); lerr != nil {
				err = errors.Join(err, lerr)
			}
		}
	}()
	rec := testRecord{Config: cfg, Started: time.Now().UTC()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rec.GoVersion, rec.Module = bi.GoVersion, bi.Main.Version
	}
	if err := results.WriteJSON(filepath.Join(dir, results.TestFile), rec); err != nil {
		return out, err
	}

	if cfg.Cluster.AdminToken == "" {
		// A token of this run's own: no other process on the host can
		// change a node's clock or ring.
		cfg.Cluster.AdminToken = rand.Text()
	}
	if cfg.TLS && cfg.Cluster.Secrets == nil {
		if cfg.Cluster.Secrets, err = secrets.New(); err != nil {
			return out, err
		}
	}
	ccfg := cfg.Cluster
	ccfg.Dir = dir
	ccfg.PowerLoss = slices.Contains(cfg.Nemesis.Faults, nemesis.Power)
	ccfg.KeepData = true // removed below once the verdict is known
	defer func() {
		if cfg.KeepData || out.Results.Verdict == checker.Invalid {
			return
		}
		if rerr := os.RemoveAll(cluster.DataDir(dir)); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove data dirs: %w", rerr))
		}
	}()
	startedAt := time.Now()
	cl, err := startCluster(ctx, cfg.Backend, ccfg, log)
	if err != nil {
		return out, err
	}
	defer func() {
		// Teardown must happen even when ctx is already cancelled (Ctrl-C).
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if cerr := cl.Close(cctx); cerr != nil {
			log.Error("tear down cluster", "err", cerr)
			err = errors.Join(err, fmt.Errorf("tear down cluster: %w", cerr))
		}
	}()

	pool, closeClients, err := dialAll(cl, cfg)
	if err != nil {
		return out, err
	}
	defer closeClients()
	targets := pool.Targets()
	acfg := admin.DefaultConfig()
	acfg.Token, acfg.TLS = cfg.Cluster.AdminToken, cfg.Cluster.Secrets.ClientTLS()
	adm := admin.New(cl, acfg)
	if err := waitReady(ctx, cfg, targets, adm, 30*time.Second); err != nil {
		return out, fmt.Errorf("cluster did not form: %w", err)
	}
	out.ClusterStart = time.Since(startedAt)
	rec.ClusterStart = out.ClusterStart.Round(time.Millisecond).Seconds()
	if err := results.WriteJSON(filepath.Join(dir, results.TestFile), rec); err != nil {
		return out, err
	}
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "cluster of %d nodes up in %v\n", len(targets), out.ClusterStart.Round(time.Millisecond))
	}

	hw, err := history.Create(filepath.Join(dir, results.HistoryFile))
	if err != nil {
		return out, err
	}
	recorder := history.NewRecorder(hw, history.NewClock())
	if m := runModel(cfg); m != (history.Model{}) {
		recorder.Record(history.Op{Process: history.NemesisProcess, Type: history.Info, F: history.FModel, Value: history.JSON(m)})
	}
	ch := &nodeChanger{cl: cl, admin: adm, pool: pool, opts: clientOptions(cfg)}
	defer ch.close()
	nopts := []nemesis.Option{nemesis.WithReplacer(ch),
		nemesis.WithPlacement(adm.Placement(func() []string { return poolNodes(pool) }), convergeKeys(cfg.Workload))}
	var cold *workload.Cold
	if cfg.ColdKeys > 0 {
		if cold, err = workload.NewCold(cfg.Workload, recorder, cfg.ColdKeys); err != nil {
			hw.Close()
			return out, err
		}
		round := 0
		nopts = append(nopts, nemesis.WithColdKeys(func(ctx context.Context) func(context.Context) {
			round++
			keys := cold.Write(ctx, round, pool.Targets())
			return func(ctx context.Context) { cold.Read(ctx, keys, pool.Targets()) }
		}))
	}
	nem, err := nemesis.New(cfg.Nemesis, cl, adm, recorder, nopts...)
	if err != nil {
		hw.Close()
		return out, err
	}
	// The ycsb load phase runs before the nemesis starts: faults are for the
	// measured run.
	if cfg.Workload.Name == workload.YCSB {
		log.Info("loading ycsb records", "records", cfg.Workload.Records)
	}
	if err := workload.Load(ctx, cfg.Workload, targets, recorder); err != nil {
		hw.Close()
		return out, err
	}

	runCtx, stopRun := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var nemErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		nemErr = nem.Run(runCtx)
	}()
	stopProgress := progress(cfg, recorder, nem)
	stopScaling := startAutoscale(runCtx, cfg, cl, ch, nem, pool, recorder)
	werr := workload.Run(runCtx, cfg.Workload, pool, recorder)
	stopRun()
	serr := stopScaling()
	wg.Wait()
	healCtx, cancel := context.WithTimeout(context.Background(), max(time.Minute, cfg.Recovery))
	herr := nem.HealAll(healCtx, time.Second)
	cancel()
	stopProgress()
	out.Interrupted = ctx.Err() != nil

	var ferr error
	if werr == nil && herr == nil && !out.Interrupted {
		if cfg.Workload.Name == workload.Set {
			note(cfg.Progress, "healed; the cluster recovers for %v before the final reads", cfg.Recovery)
			ctxtime.Sleep(ctx, cfg.Recovery)
		}
		ferr = workload.FinalReads(ctx, cfg.Workload, pool.Targets(), recorder)
		if cold != nil && cfg.Workload.Name == workload.Set {
			// Every cold add judged, also one whose read-back failed.
			cold.Read(ctx, cold.Written(), pool.Targets())
		}
		if ctx.Err() != nil {
			// Interrupted while recovering or reading: a stop, not a
			// failure; the checker judges what the reads left unread.
			out.Interrupted = true
			if errors.Is(ferr, context.Canceled) {
				ferr = nil
			}
		}
	}
	if werr == nil && herr == nil && ferr == nil && !out.Interrupted && !cfg.Cluster.Etcd() && cfg.ConvergenceWait > 0 {
		keys := convergeKeys(cfg.Workload)
		if cold != nil {
			keys = append(keys, cold.Written()...)
		}
		if len(keys) > 0 {
			note(cfg.Progress, "comparing the home replicas of %d keys (waiting up to %v for them to agree)", len(keys), cfg.ConvergenceWait)
			ferr = checkConvergence(ctx, cfg.ConvergenceWait, keys, poolNodes(pool), cl, adm, recorder)
			if ctx.Err() != nil {
				out.Interrupted = true
				ferr = nil
			}
		}
	}
	// The replicas' one-way latencies, for the staleness prediction
	// (kvnode measures them; etcd does not).
	if !cfg.Cluster.Etcd() {
		wars := collectWARS(context.WithoutCancel(ctx), cl.Nodes())
		if err := results.WriteJSON(filepath.Join(dir, results.WARSFile), wars); err != nil {
			log.Warn("replica latencies not stored", "err", err)
		}
	}
	runErr := errors.Join(werr, nemErr, serr, herr, ferr, recorder.Err())
	if cerr := hw.Close(); cerr != nil {
		runErr = errors.Join(runErr, fmt.Errorf("history: %w", cerr))
	}

	// Check what is on disk, exactly what `quorumlab check` would read.
	// An interrupted run, or one whose heal or final reads failed, is still
	// checked: the history so far is data. Its error then stands beside
	// the verdict.
	note(cfg.Progress, "checking the history")
	opts := checker.Options{Workload: cfg.Workload.Name, Timeout: cfg.CheckTimeout, Memory: cfg.CheckMemory, Progress: cfg.Progress, Faults: cfg.Nemesis.Faults}
	if out.Interrupted && (opts.Timeout == 0 || opts.Timeout > interruptedCheck) {
		opts.Timeout = interruptedCheck
	}
	cctx, stopCheck := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCheck()
	go func() {
		select {
		case <-cfg.Abort:
			stopCheck()
		case <-cctx.Done():
		}
	}()
	// Marked where a reader looks: results.json, the summary, the report
	// and the store index.
	opts.Interrupted = out.Interrupted
	var runWarnings []string
	if runErr != nil {
		runWarnings = []string{"the run did not end cleanly: " + runErr.Error()}
	}
	out.Results, err = check(cctx, filepath.Join(dir, results.HistoryFile), dir, opts, runWarnings)
	return out, errors.Join(runErr, err)
}

// DefaultCheckMemory is checker.DefaultMemoryBudget of this machine, or
// 2 GiB if its memory cannot be read.
func DefaultCheckMemory() int64 {
	total, err := sysmem.Total()
	if err != nil {
		return 2 << 30
	}
	return checker.DefaultMemoryBudget(total)
}

// Check checks a stored history and writes its results into dir.
func Check(ctx context.Context, hist, dir string, opts checker.Options) (checker.Results, error) {
	return check(ctx, hist, dir, opts, nil)
}

// check is Check with warnings of the run's own (a failed heal, say) to
// store beside the checkers'.
func check(ctx context.Context, hist, dir string, opts checker.Options, runWarnings []string) (checker.Results, error) {
	ops, warnings, err := history.ReadFile(hist)
	if err != nil {
		return checker.Results{}, err
	}
	opts.Visualize = true
	res := checker.Check(ctx, ops, opts)
	res.Warnings = slices.Concat(runWarnings, warnings, res.Warnings)
	if err := predictStaleness(dir, res); err != nil {
		res.Warnings = append(res.Warnings, "no staleness prediction: "+err.Error())
	}
	if err := results.Write(dir, res); err != nil {
		return res, err
	}
	return res, results.WriteReport(dir, ops, res)
}

// runModel is what the run's configuration promises beyond the checkers'
// defaults: lww with one writer per key promises no more than the
// single-writer register; strict quorums, with tombstones kept for the
// whole run, make deletes final.
func runModel(cfg Config) history.Model {
	var m history.Model
	if singleWriter(cfg) {
		m.Register = history.ModelSingleWriter
	}
	c := cfg.Cluster
	clocks := slices.Contains(cfg.Nemesis.Faults, nemesis.Clock) || slices.Contains(cfg.Nemesis.Faults, nemesis.Strobe)
	// A tombstone collected within the run lets a replica that missed the
	// delete bring the element back: kvnode's documented price of a short
	// grace, not a broken promise.
	span := cfg.Workload.TimeLimit + cfg.Recovery + cfg.ConvergenceWait
	kept := c.Mode == "linearizable" || c.TombstoneGrace == 0 || c.TombstoneGrace > span
	if cfg.Workload.DeleteRatio > 0 && (c.Etcd() || (c.R+c.W > c.N && !c.Sloppy && !(c.Mode == "lww" && clocks) && kept)) {
		m.Set = history.ModelDeletesFinal
	}
	return m
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

func startCluster(ctx context.Context, backend string, cfg cluster.Config, log *slog.Logger) (cluster.Cluster, error) {
	switch backend {
	case "local":
		return local.Start(ctx, cfg, log)
	case "docker":
		return docker.Start(ctx, cfg, log)
	}
	return nil, fmt.Errorf("unknown backend %q (want local or docker)", backend)
}

// dialAll dials every node; the pool's close closes the clients of the
// nodes still in it then (an autoscaler closes those it removes).
func dialAll(cl cluster.Cluster, cfg Config) (*workload.Pool, func(), error) {
	var targets []workload.Target
	opts := clientOptions(cfg)
	for _, n := range cl.Nodes() {
		c, err := target.Dial(targetOf(cfg), n.Addr, opts)
		if err != nil {
			for _, t := range targets {
				t.Client.Close()
			}
			return nil, nil, err
		}
		targets = append(targets, workload.Target{Node: n.ID, Client: c})
	}
	pool := workload.NewPool(targets)
	return pool, func() {
		for _, t := range pool.Targets() {
			t.Client.Close()
		}
	}, nil
}

// poolNodes are the ids of the nodes in the pool now.
func poolNodes(pool *workload.Pool) []string { return nodeIDs(pool.Targets()) }

func nodeIDs(targets []workload.Target) []string {
	ids := make([]string, len(targets))
	for i, t := range targets {
		ids[i] = t.Node
	}
	return ids
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

// waitReady waits until the cluster serves: every kvnode sees every other
// as alive, or every etcd member answers a read (a linearizable one needs a
// leader and a quorum), so the first operations do not fail only because
// peer connections are still forming.
func waitReady(ctx context.Context, cfg Config, targets []workload.Target, adm *admin.Admin, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if cfg.Cluster.Etcd() {
		return waitRead(ctx, targets)
	}
	return adm.WaitFormed(ctx, nodeIDs(targets))
}

// waitRead waits until a read through every target succeeds.
func waitRead(ctx context.Context, targets []workload.Target) error {
	for _, t := range targets {
		for {
			_, err := t.Client.Get(ctx, "quorumlab-ready")
			if err == nil {
				break
			}
			if !ctxtime.Sleep(ctx, 100*time.Millisecond) {
				return fmt.Errorf("%s: %w", t.Node, err)
			}
		}
	}
	return nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
