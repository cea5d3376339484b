// Package checker analyses a recorded history: linearizability (porcupine),
// set membership, stale reads, latency, availability and counts. Every
// checker is a pure function of the history.
package checker

// Verdict is the outcome of a check.
type Verdict string

const (
	Valid   Verdict = "valid"
	Invalid Verdict = "invalid"
	// Unknown means the check could not decide, e.g. it timed out. It is
	// never to be read as valid.
	Unknown Verdict = "unknown"
)

// Exit codes of quorumlab: one per verdict, and one for a harness that
// failed before it had a verdict to trust.
const (
	ExitValid   = 0
	ExitInvalid = 1
	ExitUnknown = 2
	ExitHarness = 3
)

// rank orders verdicts: invalid beats unknown beats valid. Anything
// unrecognised ranks as unknown, so that it never passes as valid.
func (v Verdict) rank() int {
	switch v {
	case Valid:
		return 0
	case Invalid:
		return 2
	}
	return 1
}

// Combine returns the worst of vs. No verdicts combine to valid; anything
// unrecognised combines to unknown.
func Combine(vs ...Verdict) Verdict {
	out := Valid
	for _, v := range vs {
		if v.rank() > out.rank() {
			out = v
		}
	}
	if out.rank() == Unknown.rank() {
		return Unknown
	}
	return out
}

// ExitCode is quorumlab's exit code for a run whose verdict is v.
func (v Verdict) ExitCode() int {
	switch Combine(v) {
	case Valid:
		return ExitValid
	case Invalid:
		return ExitInvalid
	}
	return ExitUnknown
}
