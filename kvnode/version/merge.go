package version

import (
	"bytes"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

// covers reports whether the causal past c includes the write event dot.
func covers(c []*kvpb.ClockEntry, dot *kvpb.ClockEntry) bool {
	for _, e := range c {
		if e.GetNode() == dot.GetNode() {
			return e.GetCounter() >= dot.GetCounter()
		}
	}
	return false
}

func sameDot(a, b *kvpb.ClockEntry) bool {
	return a.GetNode() == b.GetNode() && a.GetCounter() == b.GetCounter()
}

// Merge returns the versions of cur ∪ in that survive, and whether
// that differs from cur.
//
// vclock: every write is identified by its dot (coordinator, counter) and
// carries its causal past (the client's context). A version is obsolete when
// another version's past covers its dot. Using dots rather than comparing
// whole clocks keeps two writes from the same context through the same
// coordinator as siblings (dotted version vectors, as Riak does).
//
// lww and linearizable: one version survives, the highest (timestamp, writer)
// or (counter, writer) tag; ties on the tag fall back to the value bytes so
// every replica converges on the same winner.
func Merge(mode Mode, cur, in []*kvpb.Version) ([]*kvpb.Version, bool) {
	if mode != VClock {
		best := Highest(mode, cur)
		for _, v := range in {
			if best == nil || Greater(mode, v, best) {
				best = v
			}
		}
		if best == nil {
			return nil, false
		}
		if len(cur) == 1 && !Greater(mode, best, cur[0]) {
			return cur, false
		}
		return []*kvpb.Version{best}, true
	}
	all := make([]*kvpb.Version, 0, len(cur)+len(in))
	all = append(all, cur...)
	for _, v := range in {
		dup := false
		for _, w := range all {
			if sameDot(v.GetDot(), w.GetDot()) {
				dup = true
				break
			}
		}
		if !dup {
			all = append(all, v)
		}
	}
	out := make([]*kvpb.Version, 0, len(all))
	for i, v := range all {
		obsolete := false
		for j, w := range all {
			if i != j && covers(w.GetClock(), v.GetDot()) {
				obsolete = true
				break
			}
		}
		if !obsolete {
			out = append(out, v)
		}
	}
	changed := len(out) != len(cur)
	if !changed {
		for i := range out {
			if !sameDot(out[i].GetDot(), cur[i].GetDot()) {
				changed = true
				break
			}
		}
	}
	return out, changed
}

// Highest is the winning version of a single-version mode's set.
func Highest(mode Mode, vs []*kvpb.Version) *kvpb.Version {
	var best *kvpb.Version
	for _, v := range vs {
		if best == nil || Greater(mode, v, best) {
			best = v
		}
	}
	return best
}

// Greater orders versions of the single-version modes.
func Greater(mode Mode, a, b *kvpb.Version) bool {
	if mode == Linearizable {
		if ca, cb := a.GetCounter(), b.GetCounter(); ca != cb {
			return ca > cb
		}
	} else if ta, tb := a.GetTimestamp(), b.GetTimestamp(); ta != tb {
		return ta > tb
	}
	if a.GetWriter() != b.GetWriter() {
		return a.GetWriter() > b.GetWriter()
	}
	if a.GetTombstone() != b.GetTombstone() {
		return a.GetTombstone()
	}
	return bytes.Compare(a.GetValue(), b.GetValue()) > 0
}

// SameTag reports whether two single-version sets hold the same version.
func SameTag(mode Mode, a, b []*kvpb.Version) bool {
	ha, hb := Highest(mode, a), Highest(mode, b)
	if ha == nil || hb == nil {
		return ha == nil && hb == nil
	}
	return !Greater(mode, ha, hb) && !Greater(mode, hb, ha)
}

// values returns the live (non-tombstone) values of a merged set.

// Values returns the live (non-tombstone) values of a merged set.
func Values(vs []*kvpb.Version) [][]byte {
	var out [][]byte
	for _, v := range vs {
		if !v.GetTombstone() {
			out = append(out, v.GetValue())
		}
	}
	return out
}
