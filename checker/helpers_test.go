package checker

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/quorumlab/quorumlab/history"
)

// Small hand-made histories. Times are in milliseconds; every helper returns
// the invocation and completion records of one operation on key "k" unless
// keyed.

func call(proc int, f string, v json.RawMessage, start, end int64, outcome history.Type, out json.RawMessage) []history.Op {
	return keyed("k", proc, f, v, start, end, outcome, out)
}

func keyed(key string, proc int, f string, v json.RawMessage, start, end int64, outcome history.Type, out json.RawMessage) []history.Op {
	inv := history.Op{Time: start * 1e6, Process: proc, Type: history.Invoke, F: f, Key: key, Value: v}
	if outcome == "" { // never completed
		return []history.Op{inv}
	}
	if out == nil {
		out = v
	}
	return []history.Op{inv, {Time: end * 1e6, Process: proc, Type: outcome, F: f, Key: key, Value: out}}
}

func write(proc int, v int64, start, end int64, outcome history.Type) []history.Op {
	return call(proc, history.FWrite, history.Int(v), start, end, outcome, nil)
}

func read(proc int, start, end int64, vs ...int64) []history.Op {
	return call(proc, history.FRead, nil, start, end, history.OK, history.Ints(vs))
}

func add(proc int, e int64, start, end int64, outcome history.Type) []history.Op {
	return call(proc, history.FAdd, history.Int(e), start, end, outcome, nil)
}

func nemesis(at int64, f string) []history.Op {
	return []history.Op{{Time: at * 1e6, Process: history.NemesisProcess, Type: history.Info, F: f, Value: history.JSON(map[string]string{"nodes": "n1"})}}
}

// hist orders the records of ops by time, as the harness writes them, and
// numbers them.
func hist(ops ...[]history.Op) []history.Op {
	var out []history.Op
	for _, o := range ops {
		out = append(out, o...)
	}
	// Stable insertion sort: invocations precede their completions already.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Time < out[j-1].Time; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	for i := range out {
		out[i].Index = int64(i)
	}
	return out
}

// indexOf returns the index of the first record at time ms with type ty.
func indexOf(ops []history.Op, ms int64, ty history.Type) int64 {
	for _, op := range ops {
		if op.Time == ms*1e6 && op.Type == ty {
			return op.Index
		}
	}
	return -2
}

// lockedWriter is a strings.Builder safe for a writer goroutine and a reader.
type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func cas(proc int, expected, next int64, start, end int64, outcome history.Type) []history.Op {
	return call(proc, history.FCas, history.Cas(expected, next), start, end, outcome, nil)
}
