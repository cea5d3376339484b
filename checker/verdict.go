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

// Combine returns the worst of vs: invalid beats unknown beats valid. No
// verdicts combine to valid.
func Combine(vs ...Verdict) Verdict {
	out := Valid
	for _, v := range vs {
		switch v {
		case Invalid:
			return Invalid
		case Valid:
		default: // Unknown, or anything unrecognised: never let it pass as valid
			out = Unknown
		}
	}
	return out
}
