// Package version is the replica state machine of every consistency mode:
// pure functions over version sets (merge, order, read contexts, tombstone
// expiry), no I/O, so the rules are testable on their own and shared by the
// coordinator, the replica and anti-entropy.
package version

import "fmt"

// Mode is the cluster's consistency mode.
type Mode string

const (
	VClock       Mode = "vclock"
	LWW          Mode = "lww"
	Linearizable Mode = "linearizable"
)

// ParseMode checks a --mode value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case VClock, LWW, Linearizable:
		return m, nil
	}
	return "", fmt.Errorf("unknown mode %q (want vclock, lww or linearizable)", s)
}
