package version

import "github.com/quorumlab/quorumlab/kvnode/kvpb"

// Expired reports whether every version of a key is a tombstone written
// before cutoff (ns since the epoch; 0 keeps all). A version whose write
// time is unknown is kept.
func Expired(mode Mode, vs []*kvpb.Version, cutoff int64) bool {
	if mode == Linearizable || len(vs) == 0 {
		return false
	}
	for _, v := range vs {
		t := v.GetTimestamp()
		if mode == VClock {
			t = v.GetDot().GetTime()
		}
		if !v.GetTombstone() || t == 0 || t >= cutoff {
			return false
		}
	}
	return true
}
