package checker

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/quorumlab/quorumlab/history"
)

// Options configure Check.
type Options struct {
	Workload string // "register", "set" or "ycsb": which checkers apply
	// Timeout bounds the linearizability check as a whole; 0 means none.
	// Keys it cuts short are unknown.
	Timeout time.Duration
	// Memory bounds the process's memory during the linearizability check,
	// in bytes; 0 means none. Searches it cuts short are unknown. See
	// DefaultMemoryBudget.
	Memory int64
	// Visualize keeps porcupine's visualization of every invalid key.
	Visualize bool
	// Progress, if set, gets a line every few seconds of a long check.
	Progress io.Writer
	// Interrupted marks the results of a run stopped early.
	Interrupted bool
	// Faults are the fault kinds the run asked for: if none shows in the
	// history, the results say so, since a run under "faults" that had
	// none proves less than it seems to.
	Faults []string

	// model is the register model the history claims (Check reads it).
	model string
}

// ResultsSchema is the version of the results.json layout, which
// docs/results.md describes. It changes when a field changes meaning or
// goes away; new fields do not change it.
const ResultsSchema = 2

// Results are everything Check found: the content of results.json.
type Results struct {
	Schema  int     `json:"schema"`
	Verdict Verdict `json:"verdict"`
	Error   string  `json:"error,omitempty"`
	// Interrupted is set on a run stopped early (Ctrl-C): the results cover
	// what was recorded until then.
	Interrupted bool `json:"interrupted,omitempty"`
	// Warnings are problems that did not stop the check, such as a torn
	// last line of the history.
	Warnings     []string         `json:"warnings,omitempty"`
	Linearizable *Linearizability `json:"linearizable,omitempty"`
	Set          *SetResult       `json:"set,omitempty"`
	Staleness    *Staleness       `json:"staleness,omitempty"`
	Stats        Stats            `json:"stats"`
	Latency      Latency          `json:"latency"`
	Availability Availability     `json:"availability"`
	// Convergence compares each touched key's home replicas after the
	// final heal, if the harness recorded them.
	Convergence *Convergence `json:"convergence,omitempty"`
	// Scaling is what an autoscaler did during the run, if one ran.
	Scaling *Scaling `json:"scaling,omitempty"`
}

// Check runs the checkers that apply to opts.Workload. The verdict combines
// theirs; a history that cannot be checked (an unknown workload, a malformed
// history) is unknown.
func Check(ctx context.Context, ops []history.Op, opts Options) Results {
	pairs, err := history.Pair(ops)
	if err != nil {
		return Results{Schema: ResultsSchema, Verdict: Unknown, Error: fmt.Sprintf("pair operations: %v", err), Interrupted: opts.Interrupted}
	}
	if len(pairs) == 0 {
		return Results{Schema: ResultsSchema, Verdict: Unknown, Error: "the history has no client operations: nothing to check", Interrupted: opts.Interrupted}
	}
	faults := history.Faults(ops)
	r := Results{
		Schema:       ResultsSchema,
		Verdict:      Valid,
		Stats:        stats(ops, pairs),
		Latency:      latency(ops, pairs),
		Availability: availability(pairs, faults),
		Interrupted:  opts.Interrupted,
		Scaling:      scaling(ops),
	}
	if len(opts.Faults) > 0 && len(faults) == 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("faults %v were requested but none took effect: the run is as good as one without faults (is the time limit shorter than the nemesis interval?)", opts.Faults))
	}
	switch opts.Workload {
	case "register":
		opts.model = history.RegisterModel(ops)
		l := linearizable(ctx, pairs, faults, opts)
		s := staleness(pairs)
		r.Linearizable, r.Staleness = &l, &s
		r.Verdict = Combine(l.Verdict, s.Verdict)
	case "set":
		s := setCheck(pairs, history.SetModel(ops) == history.ModelDeletesFinal)
		r.Set = &s
		r.Verdict = s.Verdict
	case "ycsb":
		// Nothing to verify: ycsb measures.
	default:
		r.Verdict, r.Error = Unknown, fmt.Sprintf("unknown workload %q", opts.Workload)
	}
	if c := convergence(ops); c != nil {
		r.Convergence = c
		r.Verdict = Combine(r.Verdict, c.Verdict)
	}
	return r
}
