// Package workload generates client operations, runs them against kvnodes
// with bounded concurrency (closed loop) or at a target rate (open loop),
// and records every invocation and completion in the history.
package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/internal/ctxtime"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/target"
)

// Workload names.
const (
	Register = "register"
	Set      = "set"
	YCSB     = "ycsb"
)

// Config says what to run and how hard.
type Config struct {
	Name string // register | set | ycsb
	Keys int    // register and set only
	// CASRatio is the share of register operations that are
	// compare-and-set, on targets that have it (0: reads and writes only).
	CASRatio float64
	// DeleteRatio is the share of set operations that delete the key
	// (read for its context, then delete), so that later adds start a new
	// set: tombstones, their collection and resurrection get exercised.
	DeleteRatio float64 `json:"delete_ratio,omitempty"`
	Concurrency int
	// WritersPerKey 1 gives each key one writing client (key k: client k
	// mod Concurrency). A register's other clients only read it; a set's
	// clients add only to their own keys, so that each read-modify-write
	// is alone on its key (lww and linearizable sets then lose no add).
	// 0: every client writes every key.
	WritersPerKey int `json:"writers_per_key,omitempty"`
	// Rate is the total target rate in ops/s across all clients; 0 runs a
	// closed loop (each client issues its next op when the last returns).
	Rate float64
	// RateProfile, if set, replaces Rate: open loop at each phase's rate
	// in turn; the time limit is then the profile's length.
	RateProfile []Phase `json:"rate_profile,omitempty"`
	TimeLimit   time.Duration
	Seed        uint64
	OpTimeout   time.Duration
	// FailurePause is how long a client waits after an operation that did
	// not succeed, so a dead coordinator does not flood the history.
	FailurePause time.Duration
	// Warmup is the first part of the run left out of the latency and
	// throughput figures (the operations are still recorded and checked).
	Warmup time.Duration

	// YCSB is the core workload of the ycsb workload: a, b, c, d or f.
	YCSB string
	// Records is how many keys the ycsb load phase inserts.
	Records int
	// ValueSize is the size of every ycsb value, in bytes.
	ValueSize int
	// Distribution chooses the keys of ycsb operations: zipfian, uniform,
	// latest or hotspot; "" is the workload's own (latest for d, else
	// zipfian).
	Distribution string
	// ReadBeforeUpdate makes a ycsb update read the key first and write
	// with the read's context, as Riak's YCSB binding does: under vclock
	// blind writes would each add a sibling. Its latency covers both calls.
	ReadBeforeUpdate bool
}

// DefaultConfig is a register workload on 8 keys, 10 clients, closed loop.
func DefaultConfig() Config {
	return Config{
		Name: Register, Keys: 8, Concurrency: 10, TimeLimit: 60 * time.Second,
		Seed: 1, OpTimeout: 3 * time.Second, FailurePause: 20 * time.Millisecond,
		// YCSB's defaults: 1000 records of 10 fields × 100 bytes.
		YCSB: "a", Records: 1000, ValueSize: 1000,
	}
}

// Validate reports the first bad setting.
func (c Config) Validate() error {
	switch c.Name {
	case Register, Set:
		if c.Keys < 1 {
			return fmt.Errorf("keys=%d: need at least one", c.Keys)
		}
		if !(c.CASRatio >= 0 && c.CASRatio <= 1) {
			return fmt.Errorf("cas ratio %v: must be between 0 and 1", c.CASRatio)
		}
		if c.CASRatio > 0 && c.Name != Register {
			return fmt.Errorf("cas ratio %v: only the register workload issues compare-and-set", c.CASRatio)
		}
		if !(c.DeleteRatio >= 0 && c.DeleteRatio < 1) {
			return fmt.Errorf("delete ratio %v: must be at least 0 and below 1", c.DeleteRatio)
		}
		if c.DeleteRatio > 0 && c.Name != Set {
			return fmt.Errorf("delete ratio %v: only the set workload deletes (a register delete would write \"absent\" more than once, which the register checker's passes, built on values written once, cannot judge)", c.DeleteRatio)
		}
		if c.WritersPerKey != 0 && (c.WritersPerKey != 1 || c.Name == YCSB || c.CASRatio > 0) {
			return fmt.Errorf("writers per key %d: 1 or 0 (any), for the register workload without cas or the set workload", c.WritersPerKey)
		}
		if c.WritersPerKey == 1 && c.Name == Set && c.Keys < c.Concurrency {
			return fmt.Errorf("writers per key 1 on the set workload: %d keys for %d clients leaves clients without a key; use --keys ≥ --concurrency", c.Keys, c.Concurrency)
		}
		if c.ValueSize < 0 {
			return fmt.Errorf("value size %d: must not be negative", c.ValueSize)
		}
	case YCSB:
		if err := c.validateYCSB(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown workload %q (want register, set or ycsb)", c.Name)
	}
	if c.Concurrency < 1 {
		return fmt.Errorf("concurrency=%d: need at least one client", c.Concurrency)
	}
	if c.Rate < 0 {
		return fmt.Errorf("rate=%v: must not be negative", c.Rate)
	}
	if len(c.RateProfile) > 0 {
		if c.Rate > 0 {
			return fmt.Errorf("rate=%v and a rate profile: give one of them", c.Rate)
		}
		if l := ProfileLength(c.RateProfile); c.TimeLimit != l {
			return fmt.Errorf("time limit %v: a rate profile of %v sets it", c.TimeLimit, l)
		}
		for _, ph := range c.RateProfile {
			if !(ph.Rate > 0) || ph.For <= 0 {
				return fmt.Errorf("rate profile phase %v:%v: rate and duration must be positive", ph.Rate, ph.For)
			}
		}
	}
	if c.TimeLimit <= 0 {
		return fmt.Errorf("time limit %v: must be positive", c.TimeLimit)
	}
	if c.OpTimeout <= 0 {
		return fmt.Errorf("op timeout %v: must be positive", c.OpTimeout)
	}
	if c.Warmup < 0 || c.Warmup >= c.TimeLimit {
		return fmt.Errorf("warmup %v: must be at least 0 and shorter than the time limit %v", c.Warmup, c.TimeLimit)
	}
	return nil
}

// Target is a node clients send requests to.
type Target struct {
	Node   string
	Client target.Client
}

// op is one generated operation.
type op struct {
	f     string
	key   string
	value int64 // register and set: the value written or added
	// expected is a cas's expected value.
	expected int64
	// ycsb: the key number behind key, and the value to write.
	keynum int64
	data   []byte
}

// runner executes one generated op against a client and returns the
// completion's type, value and error.
type runner func(ctx context.Context, c target.Client, o op) (history.Type, []int64, error)

// Run drives the workload until the time limit passes or ctx ends. A ycsb
// workload reads the keys Load inserted: call Load first.
//
// When something before the run must stay out of the latency figures (the
// ycsb load phase, a warmup), Run first records a history.FMeasure marker
// with the warmup. In open loop every invocation carries its intended start
// time (history.Op.Intended), so that the checker can correct latencies for
// coordinated omission.
func Run(ctx context.Context, cfg Config, pool *Pool, rec *history.Recorder) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if len(pool.Targets()) == 0 {
		return errors.New("workload: no nodes to send requests to")
	}
	var nextValue atomic.Int64
	newGen, exec, err := generator(cfg, &nextValue)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(cfg.TimeLimit)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	if cfg.Name == YCSB || cfg.Warmup > 0 {
		rec.Record(history.Op{
			Process: history.NemesisProcess, Type: history.Info, F: history.FMeasure,
			Value: history.JSON(map[string]int64{"warmup_ns": int64(cfg.Warmup)}),
		})
	}
	pace := newPacer(cfg.phases(), rec.Now)
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(w)))
			gen := newGen(w)
			process := w
			for {
				intended, ok := pace.wait(ctx)
				if !ok {
					return
				}
				t, ok := pool.pick(w)
				if !ok {
					return
				}
				o := gen(rng)
				typ, _ := invoke(ctx, rec, cfg, t, process, o, intended, exec)
				if typ == history.Info {
					// The op may still take effect: this process is done.
					process += cfg.Concurrency
				}
				if typ != history.OK && !ctxtime.Sleep(ctx, cfg.FailurePause) {
					return
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

// invoke records the invocation, runs the op and records its completion,
// and returns the completion's type and error. intended is the op's intended
// start time in open loop, else 0.
func invoke(ctx context.Context, rec *history.Recorder, cfg Config, t Target, process int, o op, intended int64, exec runner) (history.Type, error) {
	// ycsb measures: its records carry no values, which keeps the history
	// small (a value is up to 10 KiB).
	values := cfg.Name != YCSB
	inv := history.Op{Process: process, Type: history.Invoke, F: o.f, Key: o.key, Node: t.Node, Intended: intended}
	switch {
	case values && o.f == history.FCas:
		inv.Value = history.Cas(o.expected, o.value)
	case values && o.f != history.FRead && o.f != history.FDelete:
		inv.Value = history.Int(o.value)
	}
	rec.Record(inv)
	// The op's own deadline is not cut short by the end of the run: an
	// operation in flight when time runs out completes or times out.
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.OpTimeout)
	typ, vals, err := exec(octx, t.Client, o)
	cancel()
	done := inv
	done.Type, done.Intended = typ, 0
	if values && o.f == history.FRead && typ == history.OK {
		done.Value = history.Ints(vals)
	}
	if err != nil {
		done.Error = err.Error()
	}
	rec.Record(done)
	return typ, err
}

// outcome maps a write's error to ok, fail (certainly not applied) or info.
func outcome(err error) history.Type {
	switch {
	case err == nil:
		return history.OK
	case target.Definite(err):
		return history.Fail
	}
	return history.Info
}

func parseInts(values [][]byte) ([]int64, error) {
	out := make([]int64, 0, len(values))
	for _, v := range values {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("value %q is not an integer", v)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseSet(values [][]byte) ([]int64, error) {
	elems := client.SetElements(values)
	out := make([]int64, 0, len(elems))
	for _, e := range elems {
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("set element %q is not an integer", e)
		}
		out = append(out, n)
	}
	return out, nil
}

// generator returns a constructor of per-client operation generators (a
// ycsb client keeps generator state) and the runner of their operations.
func generator(cfg Config, next *atomic.Int64) (func(client int) func(*rand.Rand) op, runner, error) {
	keyOf := func(prefix string, rng *rand.Rand) string {
		return prefix + strconv.Itoa(rng.IntN(cfg.Keys))
	}
	switch cfg.Name {
	case YCSB:
		y, err := newYCSB(cfg)
		if err != nil {
			return nil, nil, err
		}
		return func(int) func(*rand.Rand) op { return y.gen() }, y.exec, nil
	case Set:
		return func(client int) func(*rand.Rand) op {
			return func(rng *rand.Rand) op {
				key := keyOf("s", rng)
				if cfg.WritersPerKey == 1 { // one of client, client+C, …
					key = "s" + strconv.Itoa(client+cfg.Concurrency*rng.IntN((cfg.Keys-client+cfg.Concurrency-1)/cfg.Concurrency))
				}
				if cfg.DeleteRatio > 0 && rng.Float64() < cfg.DeleteRatio {
					return op{f: history.FDelete, key: key}
				}
				return op{f: history.FAdd, key: key, value: next.Add(1)}
			}
		}, setOp, nil
	default:
		// A cas expects the value last written to its key, so that some
		// succeed and some fail; keys are numbered, so a slice holds them.
		last := make([]atomic.Int64, cfg.Keys) // 0: nothing written yet
		gen := func(client int, rng *rand.Rand) op {
			k := rng.IntN(cfg.Keys)
			key := "r" + strconv.Itoa(k)
			if cfg.WritersPerKey == 1 && k%cfg.Concurrency != client {
				return op{f: history.FRead, key: key} // another client's key
			}
			if cfg.CASRatio > 0 && rng.Float64() < cfg.CASRatio {
				if exp := last[k].Load(); exp != 0 {
					v := next.Add(1)
					last[k].Store(v)
					return op{f: history.FCas, key: key, expected: exp, value: v}
				}
			}
			if rng.IntN(2) == 0 {
				return op{f: history.FRead, key: key}
			}
			v := next.Add(1)
			last[k].Store(v)
			return op{f: history.FWrite, key: key, value: v}
		}
		return func(client int) func(*rand.Rand) op {
			return func(rng *rand.Rand) op { return gen(client, rng) }
		}, registerOp, nil
	}
}

func registerOp(ctx context.Context, c target.Client, o op) (history.Type, []int64, error) {
	switch o.f {
	case history.FRead:
		res, err := c.Get(ctx, o.key)
		if err != nil {
			return history.Fail, nil, err
		}
		vals, err := parseInts(res.Values)
		if err != nil {
			return history.Fail, nil, err
		}
		return history.OK, vals, nil
	case history.FCas:
		err := c.CAS(ctx, o.key, []byte(strconv.FormatInt(o.expected, 10)), []byte(strconv.FormatInt(o.value, 10)))
		return outcome(err), nil, err
	}
	err := c.Put(ctx, o.key, []byte(strconv.FormatInt(o.value, 10)), nil)
	return outcome(err), nil, err
}

// setOp runs an add or a delete. An add is a read-modify-write: read every sibling, merge them, add the
// element, and write back with the read's context so the write supersedes
// exactly the versions it merged.
func setOp(ctx context.Context, c target.Client, o op) (history.Type, []int64, error) {
	res, err := c.Get(ctx, o.key)
	if err != nil {
		return history.Fail, nil, fmt.Errorf("read before %s: %w", o.f, err)
	}
	if o.f == history.FDelete {
		// With the read's context the tombstone supersedes exactly what
		// was read; an add concurrent with it stays beside it.
		err = c.Delete(ctx, o.key, res.Context)
		return outcome(err), nil, err
	}
	elems := append(client.SetElements(res.Values), strconv.FormatInt(o.value, 10))
	err = c.Put(ctx, o.key, client.EncodeSet(elems), res.Context)
	return outcome(err), nil, err
}

// FinalReads reads every key of a set workload through every target and
// records the reads; the set checker compares them with the adds.
func FinalReads(ctx context.Context, cfg Config, targets []Target, rec *history.Recorder) error {
	if cfg.Name != Set {
		return nil
	}
	process := 1 << 20 // above every worker's process ids
	for _, t := range targets {
		for k := range cfg.Keys {
			key := "s" + strconv.Itoa(k)
			inv := rec.Record(history.Op{Process: process, Type: history.Invoke, F: history.FRead, Key: key, Node: t.Node})
			octx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
			res, err := t.Client.Get(octx, key)
			cancel()
			done := inv
			var elems []int64
			if err == nil {
				elems, err = parseSet(res.Values)
			}
			if err != nil {
				done.Type, done.Error = history.Fail, err.Error()
			} else {
				done.Type, done.Value = history.OK, history.Ints(elems)
			}
			rec.Record(done)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		process++
	}
	return nil
}
