package checker

import (
	"cmp"
	"context"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/quorumlab/quorumlab/history"
)

// Anomaly kinds besides the witnesses' (FutureRead, StaleRead, ...).
const (
	// Nonlinearizable: porcupine found no linearization of the key's history.
	Nonlinearizable = "nonlinearizable"
	// Conflict: a read returned several siblings, which no register can.
	Conflict = "conflict"
)

// Linearizability is the result of Linearizable.
type Linearizability struct {
	Verdict Verdict            `json:"verdict"`
	Keys    map[string]Verdict `json:"keys"`
	// DecidedBy says how each key was decided: "witness" (a violation found
	// in a linear pass), "zones" (the exact zone test for keys whose written
	// values are distinct and that hold no cas) or "search" (porcupine).
	DecidedBy map[string]string `json:"decided_by"`
	// Model is set when the history claimed less than linearizability:
	// "single-writer" (see history.ModelSingleWriter).
	Model string `json:"model,omitempty"`
	// Unknown says why each unknown key could not be decided.
	Unknown   map[string]string `json:"unknown,omitempty"`
	Anomalies []Anomaly         `json:"anomalies,omitempty"`
	// Witnesses explain the first violations of each key found without a
	// search, at most maxWitnesses per key.
	Witnesses []Witness `json:"witnesses,omitempty"`
	Patched   Patched   `json:"patched"`
	// NoVisualization says why an invalid key has no visualization.
	NoVisualization map[string]string `json:"no_visualization,omitempty"`
	ElapsedMs       float64           `json:"elapsed_ms"`
	// PeakMemoryMiB is the most memory the process used during the check,
	// when a memory budget was set.
	PeakMemoryMiB int64  `json:"peak_memory_mib,omitempty"`
	Error         string `json:"error,omitempty"`
	// Visualizations holds porcupine's HTML view of each invalid key's
	// history, fault periods shown as annotations.
	Visualizations map[string][]byte `json:"-"`
}

// Anomaly is one kind of violation found on a key.
type Anomaly struct {
	Key   string `json:"key"`
	Kind  string `json:"kind"`
	Count int    `json:"count"` // operations involved
	// Ops are history indexes (of completions, or of invocations that never
	// completed), at most 20. For a nonlinearizable key it is the operation
	// the longest partial linearization could not get past: where to start
	// reading the visualization.
	Ops []int64 `json:"ops"`
}

// How a key was decided.
const (
	byWitness = "witness" // a violation found in one linear pass
	byZones   = "zones"   // the exact zone test, for keys with distinct written values and no cas
	bySearch  = "search"  // porcupine, for keys where a value was written twice or with a cas
	// bySingleWriter: the witness pass alone, for a run that claims only
	// the single-writer guarantee (history.ModelSingleWriter).
	bySingleWriter = "single-writer"
)

// maxWitnesses bounds the witnesses explained per key.
const maxWitnesses = 5

// visualBudget bounds the time one visualization may take: the verdict is
// already known when it runs.
const visualBudget = 30 * time.Second

type keyResult struct {
	verdict   Verdict
	by        string // how it was decided: byWitness, byZones or bySearch
	why       string // unknown: the reason
	witnesses []Witness
	stuck     int // search-invalid: index in ops past which no linearization got, -1 if none
	page      []byte
	noPage    string
}

// linearizable checks the register operations (read, write, cas) of pairs
// per key against a register that starts absent: first a linear pass for
// witnesses, then porcupine on the patched history of each key without one,
// within opts' time and memory budgets. Keys they cut short are unknown,
// never valid.
func linearizable(ctx context.Context, pairs []history.Pairing, faults []history.Fault, opts Options) Linearizability {
	start := time.Now()
	keys, err := registerHistories(pairs)
	if err != nil {
		return Linearizability{Verdict: Unknown, Error: err.Error()}
	}
	if len(keys) == 0 {
		return Linearizability{Verdict: Unknown, Error: "no read or write operations: nothing to check"}
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	var guard *memoryGuard
	if opts.Memory > 0 {
		guard = newMemoryGuard(opts.Memory)
		gctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { guard.run(gctx) })
		defer wg.Wait()
		defer stop()
	}
	prog := startProgress(opts.Progress, len(keys), guard)
	defer prog.stop()

	results := make([]keyResult, len(keys))
	var search []int
	for i, kh := range keys {
		r := &results[i]
		r.stuck = -1
		r.by = byWitness
		r.witnesses = witnesses(kh, faults, opts.model == history.ModelSingleWriter)
		if opts.model == history.ModelSingleWriter {
			// Every witness is a read older than a completed write (or of
			// a value never written): what a single writer rules out. A
			// read of a write in flight may go either way, so no search.
			r.by, r.verdict = bySingleWriter, Valid
			if len(r.witnesses) > 0 || len(kh.conflicts) > 0 {
				r.verdict = Invalid
			}
			prog.decide(r.verdict)
			continue
		}
		// The zone test models reads and writes only: a key with a cas
		// (one that may have swapped) is searched.
		zoned := len(kh.multi) == 0 && kh.cas == 0
		if len(r.witnesses) == 0 && zoned {
			r.by = byZones
			r.witnesses = zones(kh, faults)
		}
		switch {
		case len(r.witnesses) > 0 || len(kh.conflicts) > 0:
			r.verdict = Invalid
			if len(r.witnesses) == 0 {
				r.by = byWitness // the siblings
			}
		case zoned:
			r.verdict = Valid
		default:
			search = append(search, i)
			continue
		}
		prog.decide(r.verdict)
	}
	// Smallest first, so that one hard key cannot starve the easy ones.
	slices.SortStableFunc(search, func(a, b int) int { return cmp.Compare(len(keys[a].ops), len(keys[b].ops)) })
	parallel(search, func(i int) {
		kh := keys[i]
		kctx, done := guard.watch(ctx, len(kh.ops))
		prog.begin(kh.key, len(kh.ops))
		results[i].by = bySearch
		results[i].verdict, results[i].why = searchKey(kctx, kh)
		done()
		prog.end(kh.key, results[i].verdict)
	})

	if opts.Visualize {
		var invalid []int
		for i := range keys {
			if results[i].verdict == Invalid {
				invalid = append(invalid, i)
			}
		}
		parallel(invalid, func(i int) {
			kh, r := keys[i], &results[i]
			vctx, cancel := context.WithTimeout(ctx, visualBudget)
			defer cancel()
			vctx, done := guard.watch(vctx, len(kh.ops))
			defer done()
			name := kh.key + " (visualization)"
			prog.begin(name, len(kh.ops))
			defer prog.end(name, "")
			if len(r.witnesses) > 0 {
				r.page, r.noPage = visualizeWitness(vctx, kh, r.witnesses[0], faults)
				return
			}
			r.stuck, r.page, r.noPage = visualize(vctx, kh, faults)
		})
	}

	out := Linearizability{Verdict: Valid, Keys: make(map[string]Verdict, len(keys)), DecidedBy: make(map[string]string, len(keys))}
	if opts.model == history.ModelSingleWriter {
		out.Model = opts.model
	}
	for i, r := range results {
		kh := keys[i]
		out.Keys[kh.key] = r.verdict
		out.DecidedBy[kh.key] = r.by
		out.Verdict = Combine(out.Verdict, r.verdict)
		out.Patched.add(kh.patched)
		out.Anomalies = append(out.Anomalies, anomalies(kh, r)...)
		out.Witnesses = append(out.Witnesses, r.witnesses[:min(len(r.witnesses), maxWitnesses)]...)
		if r.verdict == Unknown {
			setNote(&out.Unknown, kh.key, r.why)
		}
		if r.page != nil {
			if out.Visualizations == nil {
				out.Visualizations = make(map[string][]byte)
			}
			out.Visualizations[kh.key] = r.page
		} else if r.noPage != "" {
			setNote(&out.NoVisualization, kh.key, r.noPage)
		}
	}
	out.ElapsedMs = float64(time.Since(start).Microseconds()) / 1000
	out.PeakMemoryMiB = guard.peakMiB()
	return out
}

// anomalies lists what r found on kh, one Anomaly per kind.
func anomalies(kh *keyHistory, r keyResult) []Anomaly {
	var out []Anomaly
	if len(kh.conflicts) > 0 {
		a := Anomaly{Key: kh.key, Kind: Conflict, Count: len(kh.conflicts)}
		for _, p := range kh.conflicts[:min(len(kh.conflicts), maxExamples)] {
			a.Ops = append(a.Ops, p.Completion.Index)
		}
		out = append(out, a)
	}
	byKind := make(map[string]int) // kind -> index in out
	for _, w := range r.witnesses {
		i, ok := byKind[w.Kind]
		if !ok {
			i = len(out)
			byKind[w.Kind] = i
			out = append(out, Anomaly{Key: kh.key, Kind: w.Kind})
		}
		out[i].Count++
		if len(out[i].Ops) < maxExamples {
			out[i].Ops = append(out[i].Ops, w.Ops[0].Complete)
		}
	}
	if r.verdict == Invalid && len(out) == 0 {
		a := Anomaly{Key: kh.key, Kind: Nonlinearizable, Count: 1}
		if r.stuck >= 0 {
			a.Ops = []int64{kh.ops[r.stuck].Input.(*regOp).index()}
		}
		out = append(out, a)
	}
	return out
}

func setNote(m *map[string]string, key, note string) {
	if *m == nil {
		*m = make(map[string]string)
	}
	(*m)[key] = note
}

// parallel calls f on every item, on as many goroutines as there are cores.
func parallel(items []int, f func(int)) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(items)) {
		wg.Go(func() {
			for i := range jobs {
				f(i)
			}
		})
	}
	for _, i := range items {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}
