package checker

import (
	"context"

	"github.com/quorumlab/quorumlab/history"
)

// Entry points that run one checker over a whole history, pairing it as
// Check does, so that a test can look at one checker alone.

func checkAvailability(ops []history.Op) Availability {
	pairs, err := history.Pair(ops)
	if err != nil {
		return Availability{Error: err.Error()}
	}
	return availability(pairs, history.Faults(ops))
}

func checkLatency(ops []history.Op) Latency {
	pairs, err := history.Pair(ops)
	if err != nil {
		return Latency{Error: err.Error()}
	}
	return latency(ops, pairs)
}

func checkLinearizable(ctx context.Context, ops []history.Op, opts Options) Linearizability {
	pairs, err := history.Pair(ops)
	if err != nil {
		return Linearizability{Verdict: Unknown, Error: err.Error()}
	}
	opts.model = history.RegisterModel(ops)
	return linearizable(ctx, pairs, history.Faults(ops), opts)
}

func checkSet(ops []history.Op) SetResult {
	pairs, err := history.Pair(ops)
	if err != nil {
		return SetResult{Verdict: Unknown, Error: err.Error()}
	}
	return setCheck(pairs, history.SetModel(ops) == history.ModelDeletesFinal)
}

func checkStaleness(ops []history.Op) Staleness {
	pairs, err := history.Pair(ops)
	if err != nil {
		return Staleness{Verdict: Unknown, Error: err.Error()}
	}
	return staleness(pairs)
}

func checkStats(ops []history.Op) Stats {
	pairs, err := history.Pair(ops)
	if err != nil {
		return Stats{Error: err.Error()}
	}
	return stats(ops, pairs)
}

// uncorrectedPercentiles is Percentiles measured from the actual sends; ""
// unless the latencies are Corrected.
func (l Latency) uncorrectedPercentiles(f string, outcome history.Type) string {
	return hgrm(l.uncorrected[latencyKey{f, outcome}])
}
