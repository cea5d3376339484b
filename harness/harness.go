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
	"github.com/quorumlab/quorumlab/cluster/secrets"
	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/internal/ctxtime"
	"github.com/quorumlab/quorumlab/nemesis"
	"github.com/quorumlab/quorumlab/results"
	"github.com/quorumlab/quorumlab/workload"
)

// note writes one progress line, if progress is wanted.
func note(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// interruptedCheck bounds the check of an interrupted run: it checks what
// was recorded, but its user is waiting.
const interruptedCheck = 30 * time.Second

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

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
