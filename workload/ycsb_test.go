package workload

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/history"
)

// Statistical tests draw from fixed seeds, so they pass or fail the same way
// every time; the tolerances are several standard errors wide.

const draws = 1_000_000

// chiSquare compares counts with the probabilities want (bins with no
// expected mass must stay empty) and fails at p < 0.001.
func chiSquare(t *testing.T, counts []int, want []float64) {
	t.Helper()
	var stat float64
	df := -1
	for i, p := range want {
		e := p * draws
		if e == 0 {
			if counts[i] > 0 {
				t.Fatalf("bin %d: %d draws where none are possible", i, counts[i])
			}
			continue
		}
		d := float64(counts[i]) - e
		stat += d * d / e
		df++
	}
	// Wilson–Hilferty: the chi-square quantile at z = 3.09 (p = 0.001).
	k := float64(df)
	crit := k * math.Pow(1-2/(9*k)+3.09*math.Sqrt(2/(9*k)), 3)
	t.Logf("chi-square %.1f, df %d, critical %.1f", stat, df, crit)
	if stat > crit {
		t.Errorf("chi-square %.1f > %.1f (df %d): the draws do not follow the distribution", stat, crit, df)
	}
}

// grayCDF is P(draw <= k) of Gray et al.'s generator over items with the
// given zeta, derived from the algorithm (not from the code under test):
// ranks 0 and 1 come from thresholds on u·zetan, the rest from inverting
// items·(eta·u − eta + 1)^(1/(1−theta)).
func grayCDF(items int64, zetan float64, k int64) float64 {
	if k < 0 {
		return 0
	}
	const theta = 0.99
	half := math.Pow(0.5, theta)
	eta := (1 - math.Pow(2/float64(items), 1-theta)) / (1 - (1+half)/zetan)
	u1, u2 := 1/zetan, (1+half)/zetan
	v := (math.Pow(float64(k+1)/float64(items), 1-theta) - 1 + eta) / eta
	f := u1 + max(min(v, 1)-u2, 0)
	if k >= 1 {
		f += u2 - u1
	}
	return min(f, 1)
}

// grayProbs are the probabilities of ranks 0 … bins−2 and of the rest.
func grayProbs(items int64, zetan float64, bins int) []float64 {
	p := make([]float64, bins)
	for r := range bins - 1 {
		p[r] = grayCDF(items, zetan, int64(r)) - grayCDF(items, zetan, int64(r)-1)
	}
	p[bins-1] = 1 - grayCDF(items, zetan, int64(bins-2))
	return p
}

func zipfProb(rank, items int64) float64 {
	return 1 / math.Pow(float64(rank+1), zipfianConstant) / zeta(0, items, zipfianConstant, 0)
}

func TestKeyDistributions(t *testing.T) {
	const n = 1000
	latestAfter := func(inserted int64) (func(*rand.Rand) int, []float64) {
		y := &ycsb{dist: Latest, records: n, ins: newInsertSeq(n), latestZeta: zeta(0, n-1, zipfianConstant, 0)}
		for range inserted {
			y.ins.ack(y.ins.take())
		}
		choose, last := y.chooser(), y.ins.last.Load()
		const bins = 51
		draw := func(rng *rand.Rand) int { return int(min(last-choose(rng, last), bins-1)) } // recency rank
		return draw, grayProbs(last, zeta(0, last, 0.99, 0), bins)
	}
	tests := []struct {
		name string
		// draw returns a bin; want holds each bin's probability.
		setup func() (draw func(*rand.Rand) int, want []float64)
	}{
		{"uniform", func() (func(*rand.Rand) int, []float64) {
			choose := (&ycsb{dist: Uniform, records: n}).chooser()
			want := make([]float64, n)
			for i := range want {
				want[i] = 1.0 / n
			}
			return func(rng *rand.Rand) int { return int(choose(rng, n-1)) }, want
		}},
		{"hotspot: 20 % of keys get 80 % of draws", func() (func(*rand.Rand) int, []float64) {
			choose := (&ycsb{dist: Hotspot, records: n}).chooser()
			want := make([]float64, n)
			for i := range want {
				want[i] = 0.2 / (n * 0.8)
				if i < n/5 {
					want[i] = 0.8 / (n * 0.2)
				}
			}
			return func(rng *rand.Rand) int { return int(choose(rng, n-1)) }, want
		}},
		{"zipfian ranks, n=1000: Gray's generator", func() (func(*rand.Rand) int, []float64) {
			z := newZipfian(n, zeta(0, n, zipfianConstant, 0))
			const bins = 101
			return func(rng *rand.Rand) int { return int(min(z.next(rng, n), bins-1)) }, grayProbs(n, zeta(0, n, 0.99, 0), bins)
		}},
		{"zipfian ranks, n=10", func() (func(*rand.Rand) int, []float64) {
			z := newZipfian(10, zeta(0, 10, zipfianConstant, 0))
			return func(rng *rand.Rand) int { return int(z.next(rng, 10)) }, grayProbs(10, zeta(0, 10, 0.99, 0), 11)
		}},
		{"scrambled zipfian over 1000 keys", func() (func(*rand.Rand) int, []float64) {
			choose := (&ycsb{dist: Zipfian, records: n, keyspace: n}).chooser()
			// Ranks below 10^6 land on fnv(rank) mod n; the remaining mass
			// (~45 %) is spread over 10^10 ranks, evenly enough to treat as
			// uniform (its unevenness is ~0.3 % of a key's share).
			want := make([]float64, n)
			const head = 1_000_000
			prev := 0.0
			for r := range int64(head) {
				f := grayCDF(10_000_000_001, 26.46902820178302, r)
				want[fnvhash64(r)%n] += f - prev
				prev = f
			}
			for i := range want {
				want[i] += (1 - prev) / n
			}
			return func(rng *rand.Rand) int { return int(choose(rng, n-1)) }, want
		}},
		{"latest: recency ranks after the load", func() (func(*rand.Rand) int, []float64) { return latestAfter(0) }},
		{"latest: recency ranks after 1000 inserts", func() (func(*rand.Rand) int, []float64) { return latestAfter(1000) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			draw, want := tt.setup()
			rng := rand.New(rand.NewPCG(7, 11))
			counts := make([]int, len(want))
			for range draws {
				counts[draw(rng)]++
			}
			chiSquare(t, counts, want)
		})
	}
}

// TestZipfianHeadMatchesTheory compares the generators with the zipfian law
// itself, not with Gray's approximation of it: the most popular item's share
// is 1/zeta(n, 0.99), the second's 0.5^0.99 of that (both exact in Gray's
// algorithm; ranks 2 and up are approximations and overshoot by up to ~18 %).
func TestZipfianHeadMatchesTheory(t *testing.T) {
	tests := []struct {
		name   string
		items  int64 // of the zipfian law
		draw   func(*rand.Rand) int64
		rank0  int64 // the key numbers of ranks 0 and 1
		rank1  int64
		zetan  float64 // 0: zeta(items)
		minTop float64 // sanity floor of the top share
	}{
		{name: "zipfian n=100", items: 100, rank0: 0, rank1: 1, minTop: 0.18},
		{name: "zipfian n=1000", items: 1000, rank0: 0, rank1: 1, minTop: 0.12},
		{name: "zipfian n=100000", items: 100000, rank0: 0, rank1: 1, minTop: 0.07},
		{name: "latest, 1000 records: newest first", items: 999, rank0: 999, rank1: 998, minTop: 0.12},
		{name: "scrambled zipfian: rank 0 is fnv(0) mod n", items: scrambledItems + 1, zetan: scrambledZetan,
			rank0: fnvhash64(0) % 5000, rank1: fnvhash64(1) % 5000, minTop: 0.035},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var draw func(*rand.Rand) int64
			switch {
			case strings.HasPrefix(tt.name, "latest"):
				draw = func() func(*rand.Rand) int64 {
					y := &ycsb{dist: Latest, records: 1000, ins: newInsertSeq(1000), latestZeta: zeta(0, 999, zipfianConstant, 0)}
					c := y.chooser()
					return func(rng *rand.Rand) int64 { return c(rng, 999) }
				}()
			case strings.HasPrefix(tt.name, "scrambled"):
				s := newScrambled(5000)
				draw = s.next
			default:
				z := newZipfian(tt.items, zeta(0, tt.items, zipfianConstant, 0))
				draw = func(rng *rand.Rand) int64 { return z.next(rng, tt.items) }
			}
			zn := tt.zetan
			if zn == 0 {
				zn = zeta(0, tt.items, zipfianConstant, 0)
			}
			rng := rand.New(rand.NewPCG(3, 5))
			counts := map[int64]int{}
			for range draws {
				counts[draw(rng)]++
			}
			top, second := float64(counts[tt.rank0])/draws, float64(counts[tt.rank1])/draws
			wantTop, wantSecond := 1/zn, math.Pow(0.5, zipfianConstant)/zn
			if tt.zetan != 0 {
				// Scrambling adds the ranks that hash onto the same key: on
				// average the rest of the mass over the key count.
				rest := (1 - wantTop - wantSecond) / 5000
				wantTop, wantSecond = wantTop+rest, wantSecond+rest
			}
			t.Logf("top %.4f (theory %.4f), second %.4f (theory %.4f)", top, wantTop, second, wantSecond)
			if math.Abs(top/wantTop-1) > 0.02 || math.Abs(second/wantSecond-1) > 0.03 || top < tt.minTop {
				t.Errorf("top share %.4f, second %.4f; theory %.4f, %.4f", top, second, wantTop, wantSecond)
			}
			for k, c := range counts {
				if c > counts[tt.rank0] {
					t.Errorf("key %d drawn %d times, more than the most popular key %d (%d)", k, c, tt.rank0, counts[tt.rank0])
				}
			}
		})
	}
}

// TestScrambledZetan checks YCSB's precomputed constant: zeta(10^10, 0.99),
// by Euler–Maclaurin, ζ(s) + N^(1−s)/(1−s), with ζ(0.99) from its Laurent
// series (Stieltjes constants γ0, γ1).
func TestScrambledZetan(t *testing.T) {
	const s = zipfianConstant
	zetaS := 1/(s-1) + 0.5772156649015329 + 0.0728158454836767*(s-1)
	want := zetaS + math.Pow(scrambledItems, 1-s)/(1-s)
	if math.Abs(scrambledZetan-want) > 1e-3 {
		t.Fatalf("scrambledZetan %v, zeta(10^10, 0.99) ≈ %v", scrambledZetan, want)
	}
}

func TestYCSBKeyNames(t *testing.T) {
	// The reference: the standard library's FNV-1a over the key number's
	// eight bytes, least significant first, made non-negative.
	reference := func(k int64) string {
		h := fnv.New64a()
		_ = binary.Write(h, binary.LittleEndian, k)
		v := int64(h.Sum64())
		if v < 0 {
			v = -v
		}
		return "user" + strconv.FormatInt(v, 10)
	}
	tests := []struct {
		keynum int64
		want   string
	}{
		{0, "user6284781860667377211"}, // YCSB's first key, familiar from its logs
		{1, reference(1)},
		{999, reference(999)},
		{1 << 40, reference(1 << 40)},
	}
	for _, tt := range tests {
		if got := ycsbKey(tt.keynum); got != tt.want {
			t.Errorf("ycsbKey(%d) = %s, want %s", tt.keynum, got, tt.want)
		}
	}
	seen := map[string]bool{}
	for k := range int64(100000) {
		seen[ycsbKey(k)] = true
	}
	if len(seen) != 100000 {
		t.Errorf("100000 key numbers gave %d distinct keys", len(seen))
	}
}

func TestMixProportions(t *testing.T) {
	tests := []struct {
		letter string
		want   map[string]float64
		dist   string
	}{
		{"a", map[string]float64{history.FRead: 0.5, history.FUpdate: 0.5}, Zipfian},
		{"B", map[string]float64{history.FRead: 0.95, history.FUpdate: 0.05}, Zipfian},
		{"c", map[string]float64{history.FRead: 1}, Zipfian},
		{"d", map[string]float64{history.FRead: 0.95, history.FInsert: 0.05}, Latest},
		{"f", map[string]float64{history.FRead: 0.5, history.FRMW: 0.5}, Zipfian},
	}
	for _, tt := range tests {
		t.Run(tt.letter, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Name, cfg.YCSB, cfg.Records, cfg.ValueSize = YCSB, tt.letter, 1000, 100
			y, err := newYCSB(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if y.dist != tt.dist {
				t.Errorf("distribution %s, want %s", y.dist, tt.dist)
			}
			gen := y.gen()
			rng := rand.New(rand.NewPCG(1, 2))
			const n = 200_000
			counts := map[string]int{}
			lastInsert := int64(cfg.Records - 1)
			for range n {
				o := gen(rng)
				counts[o.f]++
				switch {
				case o.key != ycsbKey(o.keynum):
					t.Fatalf("op %+v: key is not the key number's", o)
				case o.f == history.FRead && o.data != nil:
					t.Fatalf("read carries a value")
				case o.f != history.FRead && len(o.data) != cfg.ValueSize:
					t.Fatalf("%s value of %d bytes, want %d", o.f, len(o.data), cfg.ValueSize)
				case o.f == history.FInsert:
					if o.keynum != lastInsert+1 {
						t.Fatalf("insert of key number %d after %d", o.keynum, lastInsert)
					}
					lastInsert = o.keynum
					y.ins.ack(o.keynum)
				case o.keynum < 0 || o.keynum > y.ins.last.Load():
					t.Fatalf("%s of key number %d, not inserted (last %d)", o.f, o.keynum, y.ins.last.Load())
				}
			}
			for f, share := range tt.want {
				got := float64(counts[f]) / n
				if math.Abs(got-share) > 0.005 { // ~4 standard errors at 50 %
					t.Errorf("%s share %.4f, want %.2f", f, got, share)
				}
			}
			if len(counts) != len(tt.want) {
				t.Errorf("operations %v, want only %v", counts, tt.want)
			}
		})
	}
}

func TestInsertSeqAcknowledgesInOrder(t *testing.T) {
	s := newInsertSeq(10)
	a, b, c := s.take(), s.take(), s.take()
	if a != 10 || b != 11 || c != 12 {
		t.Fatalf("took %d %d %d, want 10 11 12", a, b, c)
	}
	steps := []struct {
		ack  int64
		last int64
	}{{11, 9}, {12, 9}, {10, 12}}
	for _, st := range steps {
		s.ack(st.ack)
		if got := s.last.Load(); got != st.last {
			t.Fatalf("after ack %d: last %d, want %d", st.ack, got, st.last)
		}
	}
}

func TestValidateYCSB(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string // "" for valid
	}{
		{"default a", func(*Config) {}, ""},
		{"upper case d with hotspot", func(c *Config) { c.YCSB, c.Distribution = "D", Hotspot }, ""},
		{"largest value", func(c *Config) { c.ValueSize = MaxValueSize }, ""},
		{"e needs scans", func(c *Config) { c.YCSB = "e" }, "range"},
		{"unknown letter", func(c *Config) { c.YCSB = "g" }, "unknown ycsb workload"},
		{"value over the node limit", func(c *Config) { c.ValueSize = MaxValueSize + 1 }, "value size"},
		{"empty value", func(c *Config) { c.ValueSize = 0 }, "value size"},
		{"no records", func(c *Config) { c.Records = 0 }, "records"},
		{"unknown distribution", func(c *Config) { c.Distribution = "pareto" }, "distribution"},
		{"warmup as long as the run", func(c *Config) { c.Warmup = c.TimeLimit }, "warmup"},
		{"negative warmup", func(c *Config) { c.Warmup = -time.Second }, "warmup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Name = YCSB
			tt.mutate(&cfg)
			err := cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}
