package workload

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/internal/ctxtime"
	"github.com/quorumlab/quorumlab/target"
)

// The ycsb workload is YCSB's CoreWorkload: a load phase (Load) inserts
// Records keys, then Run issues the mix of one of the core workloads. Keys
// are chosen as YCSB chooses them, with its generators (Gray et al.'s
// zipfian, scrambled over the key space; latest; hotspot; uniform), and
// named as YCSB names them ("user" + the FNV-1a hash of the key number).
// The history holds no values: ycsb measures, and 10 KiB per operation
// would dwarf everything else in it.

// Request distributions of the ycsb workload.
const (
	Zipfian = "zipfian"
	Uniform = "uniform"
	Latest  = "latest"
	Hotspot = "hotspot"
)

// MaxValueSize is kvnode's default value limit (--max-value-bytes): a larger
// ycsb value would be refused by every node.
const MaxValueSize = 10 << 10

const (
	zipfianConstant = 0.99
	// ScrambledZipfianGenerator draws ranks from a zipfian over 10^10 items,
	// whose zeta it has precomputed, and hashes them into the key space.
	// (Later YCSB versions raised the item count to 10^16 but kept this
	// zeta, which is that of 10^10; we keep the two consistent.)
	scrambledItems = 10_000_000_000
	scrambledZetan = 26.46902820178302
	// Hotspot defaults (hotspotdatafraction, hotspotopnfraction): 20 % of
	// the keys get 80 % of the operations.
	hotDataFraction = 0.2
	hotOpnFraction  = 0.8
	// loadAttempts bounds how often Load tries one record.
	loadAttempts = 3
	// loadProcess is the first process id of Load's clients, above Run's and
	// FinalReads' so that no id is reused after an indeterminate insert.
	loadProcess = 1 << 21
)

// weighted is one operation of a mix and its share.
type weighted struct {
	f     string
	share float64
}

// ycsbMix returns the operation mix and default request distribution of a
// core workload.
func ycsbMix(letter string) ([]weighted, string, error) {
	switch strings.ToLower(letter) {
	case "a": // update heavy
		return []weighted{{history.FRead, 0.5}, {history.FUpdate, 0.5}}, Zipfian, nil
	case "b": // read mostly
		return []weighted{{history.FRead, 0.95}, {history.FUpdate, 0.05}}, Zipfian, nil
	case "c": // read only
		return []weighted{{history.FRead, 1}}, Zipfian, nil
	case "d": // read latest
		return []weighted{{history.FRead, 0.95}, {history.FInsert, 0.05}}, Latest, nil
	case "f": // read-modify-write
		return []weighted{{history.FRead, 0.5}, {history.FRMW, 0.5}}, Zipfian, nil
	case "e":
		return nil, "", errors.New("ycsb workload E is short range scans, and kvnode partitions keys by hash: " +
			"neighbouring keys live on unrelated nodes, so there is no range to scan; choose a, b, c, d or f")
	}
	return nil, "", fmt.Errorf("unknown ycsb workload %q (want a, b, c, d or f)", letter)
}

func (c Config) validateYCSB() error {
	if _, _, err := ycsbMix(c.YCSB); err != nil {
		return err
	}
	if c.Records < 1 {
		return fmt.Errorf("records=%d: the load phase needs at least one", c.Records)
	}
	if c.ValueSize < 1 || c.ValueSize > MaxValueSize {
		return fmt.Errorf("value size %d: must be between 1 and %d bytes, kvnode's value limit", c.ValueSize, MaxValueSize)
	}
	switch c.Distribution {
	case "", Zipfian, Uniform, Latest, Hotspot:
	default:
		return fmt.Errorf("unknown distribution %q (want zipfian, uniform, latest or hotspot)", c.Distribution)
	}
	return nil
}

// ycsbKey is YCSB's buildKeyName with hashed (not ordered) inserts.
func ycsbKey(keynum int64) string {
	return "user" + strconv.FormatInt(fnvhash64(keynum), 10)
}

// fnvhash64 is YCSB's Utils.fnvhash64: 64-bit FNV-1a over the eight bytes of
// v, least significant first, made non-negative as Java's Math.abs does.
func fnvhash64(v int64) int64 {
	h := uint64(0xcbf29ce484222325)
	for range 8 {
		h ^= uint64(v & 0xff)
		h *= 1099511628211
		v >>= 8
	}
	r := int64(h)
	if r < 0 {
		r = -r // math.MinInt64 stays negative, as in Java
	}
	return r
}

// zipfian is YCSB's ZipfianGenerator (Gray et al., "Quickly generating
// billion-record synthetic databases", SIGMOD 1994) with base 0: item 0 is
// the most popular. It is not safe for concurrent use: each client has one.
type zipfian struct {
	theta, alpha, zeta2, half float64
	zetan, eta                float64
	count                     int64 // the item count zetan was computed for
}

func newZipfian(items int64, zetan float64) *zipfian {
	z := &zipfian{
		theta: zipfianConstant,
		alpha: 1 / (1 - zipfianConstant),
		zeta2: zeta(0, 2, zipfianConstant, 0),
		half:  math.Pow(0.5, zipfianConstant),
		zetan: zetan,
		count: items,
	}
	z.eta = z.etaFor(items)
	return z
}

// zeta is Σ 1/i^theta for i in (from, to], added to initial.
func zeta(from, to int64, theta, initial float64) float64 {
	sum := initial
	for i := from; i < to; i++ {
		sum += 1 / math.Pow(float64(i+1), theta)
	}
	return sum
}

func (z *zipfian) etaFor(items int64) float64 {
	return (1 - math.Pow(2/float64(items), 1-z.theta)) / (1 - z.zeta2/z.zetan)
}

// next draws from [0, items). A larger item count than before extends zeta
// incrementally, as YCSB does; unlike YCSB, eta then follows the new count
// too (YCSB keeps the count it was built with, which skews the tail).
func (z *zipfian) next(rng *rand.Rand, items int64) int64 {
	if items > z.count {
		z.zetan = zeta(z.count, items, z.theta, z.zetan)
		z.count = items
		z.eta = z.etaFor(items)
	}
	u := rng.Float64()
	uz := u * z.zetan
	if uz < 1 {
		return 0
	}
	if uz < 1+z.half {
		return 1
	}
	return int64(float64(items) * math.Pow(z.eta*u-z.eta+1, z.alpha))
}

// scrambled is YCSB's ScrambledZipfianGenerator over [0, items): zipfian
// popularity, with the popular items scattered over the key space.
type scrambled struct {
	z     *zipfian
	items int64
}

func newScrambled(items int64) *scrambled {
	// YCSB builds its zipfian with min 0 and max ITEM_COUNT: one item more.
	return &scrambled{z: newZipfian(scrambledItems+1, scrambledZetan), items: items}
}

func (s *scrambled) next(rng *rand.Rand) int64 {
	r := fnvhash64(s.z.next(rng, s.z.count)) % s.items
	if r < 0 {
		r += s.items
	}
	return r
}

// hotspot is YCSB's HotspotIntegerGenerator over [0, items): the first
// hotDataFraction of the items get hotOpnFraction of the draws.
type hotspot struct{ hot, cold int64 }

func newHotspot(items int64) hotspot {
	hot := max(int64(float64(items)*hotDataFraction), 1)
	return hotspot{hot: hot, cold: items - hot}
}

func (h hotspot) next(rng *rand.Rand) int64 {
	if h.cold == 0 || rng.Float64() < hotOpnFraction {
		return rng.Int64N(h.hot)
	}
	return h.hot + rng.Int64N(h.cold)
}

// insertSeq is YCSB's transaction insert key sequence (an
// AcknowledgedCounterGenerator): it hands out the key numbers of run-phase
// inserts and knows the highest one below which every insert has completed.
// Reads choose only among those, so they do not chase keys still in flight.
type insertSeq struct {
	next atomic.Int64
	last atomic.Int64 // every key number <= last has been inserted

	mu   sync.Mutex
	done map[int64]bool // completed key numbers above last
}

func newInsertSeq(records int64) *insertSeq {
	s := &insertSeq{done: make(map[int64]bool)}
	s.next.Store(records)
	s.last.Store(records - 1)
	return s
}

func (s *insertSeq) take() int64 { return s.next.Add(1) - 1 }

// ack marks an insert completed, whatever its outcome (as YCSB does: a
// failed insert must not stall the sequence).
func (s *insertSeq) ack(k int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done[k] = true
	last := s.last.Load()
	for s.done[last+1] {
		delete(s.done, last+1)
		last++
	}
	s.last.Store(last)
}

// ycsb is one run of a ycsb workload: what its clients share.
type ycsb struct {
	mix       []weighted
	dist      string
	valueSize int
	records   int64
	ins       *insertSeq
	// keyspace is the scrambled zipfian's: YCSB sizes it for the records
	// plus twice the expected inserts, so that the popular keys stay put as
	// keys are added; draws beyond the inserted keys are drawn again.
	keyspace int64
	// latestZeta is zeta(records−1), computed once for every client's
	// latest generator.
	latestZeta       float64
	readBeforeUpdate bool
}

func newYCSB(cfg Config) (*ycsb, error) {
	mix, dist, err := ycsbMix(cfg.YCSB)
	if err != nil {
		return nil, err
	}
	if cfg.Distribution != "" {
		dist = cfg.Distribution
	}
	y := &ycsb{mix: mix, dist: dist, valueSize: cfg.ValueSize, records: int64(cfg.Records), ins: newInsertSeq(int64(cfg.Records)), readBeforeUpdate: cfg.ReadBeforeUpdate}
	y.keyspace = y.records
	if share := y.share(history.FInsert); share > 0 {
		// YCSB predicts from its operation count; a run here is timed, so
		// predict from the rate, or allow the key count to double.
		expected := y.records
		if cfg.Rate > 0 {
			expected = int64(2 * share * cfg.Rate * cfg.TimeLimit.Seconds())
		}
		y.keyspace += expected
	}
	if dist == Latest {
		y.latestZeta = zeta(0, y.records-1, zipfianConstant, 0)
	}
	return y, nil
}

func (y *ycsb) share(f string) float64 {
	for _, w := range y.mix {
		if w.f == f {
			return w.share
		}
	}
	return 0
}

func (y *ycsb) pick(rng *rand.Rand) string {
	r, acc := rng.Float64(), 0.0
	for i, w := range y.mix {
		acc += w.share
		if r < acc || i == len(y.mix)-1 {
			return w.f
		}
	}
	return "" // unreachable: every mix has an operation
}

// chooser returns one client's key chooser: given the highest inserted key
// number, it draws the key number of a read, update or read-modify-write.
func (y *ycsb) chooser() func(rng *rand.Rand, last int64) int64 {
	switch y.dist {
	case Uniform:
		return func(rng *rand.Rand, _ int64) int64 { return rng.Int64N(y.records) }
	case Hotspot:
		h := newHotspot(y.records)
		return func(rng *rand.Rand, _ int64) int64 { return h.next(rng) }
	case Latest:
		// SkewedLatestGenerator: zipfian over recency, newest first.
		z := newZipfian(y.records-1, y.latestZeta)
		return func(rng *rand.Rand, last int64) int64 { return last - z.next(rng, last) }
	default:
		s := newScrambled(y.keyspace)
		return func(rng *rand.Rand, last int64) int64 {
			// YCSB redraws until the key exists; bounded here, since a
			// key space predicted far too large would make that slow.
			for range 100 {
				if k := s.next(rng); k <= last {
					return k
				}
			}
			return rng.Int64N(last + 1)
		}
	}
}

// gen returns one client's operation generator.
func (y *ycsb) gen() func(*rand.Rand) op {
	choose := y.chooser()
	buf := make([]byte, y.valueSize) // reused: a call has sent it when it returns
	return func(rng *rand.Rand) op {
		o := op{f: y.pick(rng)}
		if o.f == history.FInsert {
			o.keynum = y.ins.take()
		} else {
			o.keynum = choose(rng, y.ins.last.Load())
		}
		o.key = ycsbKey(o.keynum)
		if o.f != history.FRead {
			o.data = randomBytes(buf, rng)
		}
		return o
	}
}

func (y *ycsb) exec(ctx context.Context, c target.Client, o op) (history.Type, []int64, error) {
	switch o.f {
	case history.FRead:
		if _, err := c.Get(ctx, o.key); err != nil {
			return history.Fail, nil, err
		}
		return history.OK, nil, nil
	case history.FInsert:
		defer y.ins.ack(o.keynum)
		return put(ctx, c, o)
	case history.FRMW:
		// YCSB's read-modify-write; the write carries the read's context so
		// that under vclock it supersedes what it read.
		return readWrite(ctx, c, o)
	}
	if y.readBeforeUpdate {
		return readWrite(ctx, c, o)
	}
	return put(ctx, c, o) // update: a blind write, as in YCSB
}

func readWrite(ctx context.Context, c target.Client, o op) (history.Type, []int64, error) {
	res, err := c.Get(ctx, o.key)
	if err != nil {
		return history.Fail, nil, fmt.Errorf("read before write: %w", err)
	}
	err = c.Put(ctx, o.key, o.data, res.Context)
	return outcome(err), nil, err
}

func put(ctx context.Context, c target.Client, o op) (history.Type, []int64, error) {
	err := c.Put(ctx, o.key, o.data, nil)
	return outcome(err), nil, err
}

// randomBytes fills buf with random bytes and returns it.
func randomBytes(buf []byte, rng *rand.Rand) []byte {
	i := 0
	for ; i+8 <= len(buf); i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], rng.Uint64())
	}
	for v := rng.Uint64(); i < len(buf); i++ {
		buf[i] = byte(v)
		v >>= 8
	}
	return buf
}

// Load is the ycsb load phase: it inserts key numbers 0 … Records−1 with
// Concurrency clients in parallel, each insert bounded by OpTimeout and tried
// up to three times. The inserts are recorded (f insert) like any operation;
// Run's measure marker keeps them out of the latency and throughput figures.
// The harness loads before it starts the nemesis, so faults hit only the
// measured run. Load fails if a record could not be inserted: figures over
// missing keys would measure the wrong thing. Other workloads load nothing.
func Load(ctx context.Context, cfg Config, targets []Target, rec *history.Recorder) error {
	if cfg.Name != YCSB {
		return nil
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if len(targets) == 0 {
		return errors.New("workload: no nodes to send requests to")
	}
	var (
		next    atomic.Int64
		mu      sync.Mutex
		failed  int
		lastErr error
		wg      sync.WaitGroup
	)
	workers := min(cfg.Concurrency, cfg.Records)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A seed apart from Run's, so the values differ from the run's.
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(loadProcess+w)))
			buf := make([]byte, cfg.ValueSize)
			t := targets[w%len(targets)]
			process := loadProcess + w
			for {
				k := next.Add(1) - 1
				if k >= int64(cfg.Records) || ctx.Err() != nil {
					return
				}
				o := op{f: history.FInsert, key: ycsbKey(k), keynum: k, data: randomBytes(buf, rng)}
				var (
					typ history.Type
					err error
				)
				for range loadAttempts {
					typ, err = invoke(ctx, rec, cfg, t, process, o, 0, put)
					if typ == history.Info {
						process += workers
					}
					if typ == history.OK || !ctxtime.Sleep(ctx, cfg.FailurePause) {
						break
					}
				}
				if typ != history.OK {
					mu.Lock()
					failed, lastErr = failed+1, err
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ycsb load: %w", err)
	}
	if failed > 0 {
		return fmt.Errorf("ycsb load: %d of %d records could not be inserted in %d attempts: %w", failed, cfg.Records, loadAttempts, lastErr)
	}
	return nil
}
