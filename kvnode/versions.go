package kvnode

import (
	"bytes"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/vclock"
)

// Mode is the cluster's consistency mode.
type Mode string

const (
	ModeVClock       Mode = "vclock"
	ModeLWW          Mode = "lww"
	ModeLinearizable Mode = "linearizable"
)

// ParseMode checks a --mode value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeVClock, ModeLWW, ModeLinearizable:
		return m, nil
	}
	return "", fmt.Errorf("unknown mode %q (want vclock, lww or linearizable)", s)
}

// This file is the replica state machine of every mode: pure functions over
// version sets, no I/O, so the rules are testable on their own.

func toClock(es []*kvpb.ClockEntry) vclock.Clock {
	if len(es) == 0 {
		return nil
	}
	c := make(vclock.Clock, len(es))
	for i, e := range es {
		c[i] = vclock.Entry{Node: e.GetNode(), Counter: e.GetCounter(), Time: e.GetTime()}
	}
	return c
}

func fromClock(c vclock.Clock) []*kvpb.ClockEntry {
	es := make([]*kvpb.ClockEntry, len(c))
	for i, e := range c {
		es[i] = &kvpb.ClockEntry{Node: e.Node, Counter: e.Counter, Time: e.Time}
	}
	return es
}

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

// mergeVersions returns the versions of cur ∪ in that survive, and whether
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
func mergeVersions(mode Mode, cur, in []*kvpb.Version) ([]*kvpb.Version, bool) {
	if mode != ModeVClock {
		best := highest(mode, cur)
		for _, v := range in {
			if best == nil || greater(mode, v, best) {
				best = v
			}
		}
		if best == nil {
			return nil, false
		}
		if len(cur) == 1 && !greater(mode, best, cur[0]) {
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

func highest(mode Mode, vs []*kvpb.Version) *kvpb.Version {
	var best *kvpb.Version
	for _, v := range vs {
		if best == nil || greater(mode, v, best) {
			best = v
		}
	}
	return best
}

// greater orders versions of the single-version modes.
func greater(mode Mode, a, b *kvpb.Version) bool {
	if mode == ModeLinearizable {
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

// sameTag reports whether two single-version sets hold the same version.
func sameTag(mode Mode, a, b []*kvpb.Version) bool {
	ha, hb := highest(mode, a), highest(mode, b)
	if ha == nil || hb == nil {
		return ha == nil && hb == nil
	}
	return !greater(mode, ha, hb) && !greater(mode, hb, ha)
}

// values returns the live (non-tombstone) values of a merged set.
func values(vs []*kvpb.Version) [][]byte {
	var out [][]byte
	for _, v := range vs {
		if !v.GetTombstone() {
			out = append(out, v.GetValue())
		}
	}
	return out
}

// readContext is what a client gets back from a vclock read: the join of
// every surviving version's past and dot, so a write with it supersedes all
// of them.
func readContext(vs []*kvpb.Version) vclock.Clock {
	var c vclock.Clock
	for _, v := range vs {
		c = vclock.Merge(c, toClock(v.GetClock()))
		if d := v.GetDot(); d != nil {
			c = vclock.Merge(c, vclock.Clock{{Node: d.GetNode(), Counter: d.GetCounter(), Time: d.GetTime()}})
		}
	}
	return c
}

func encodeContext(c vclock.Clock) []byte {
	if len(c) == 0 {
		return nil
	}
	b, err := proto.Marshal(&kvpb.Context{Clock: fromClock(c)})
	if err != nil {
		panic(fmt.Sprintf("kvnode: encode context: %v", err)) // cannot happen for a valid message
	}
	return b
}

// Bounds on a client's context, which is client input: what a Get can
// return stays far below them.
const (
	maxContextBytes   = 64 << 10
	maxContextEntries = 512
	maxNodeName       = 255
	// maxCounter is above any counter a node issues (one per write, 2⁴⁸ is
	// nine years at a million writes a second) and far below 2⁶⁴, so no
	// counter taken from a context can overflow.
	maxCounter = 1 << 48
)

func decodeContext(b []byte) (vclock.Clock, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if len(b) > maxContextBytes {
		return nil, fmt.Errorf("context is %d bytes; the limit is %d", len(b), maxContextBytes)
	}
	var ctx kvpb.Context
	if err := proto.Unmarshal(b, &ctx); err != nil {
		return nil, fmt.Errorf("malformed context: %w", err)
	}
	c := toClock(ctx.GetClock())
	if err := c.Valid(); err != nil {
		return nil, fmt.Errorf("malformed context: %w", err)
	}
	if len(c) > maxContextEntries {
		return nil, fmt.Errorf("context has %d entries; the limit is %d", len(c), maxContextEntries)
	}
	for _, e := range c {
		if len(e.Node) > maxNodeName {
			return nil, fmt.Errorf("context names a node of %d bytes; the limit is %d", len(e.Node), maxNodeName)
		}
		if e.Counter >= maxCounter {
			return nil, fmt.Errorf("context counter %d for node %q was never issued", e.Counter, e.Node)
		}
	}
	return c, nil
}
