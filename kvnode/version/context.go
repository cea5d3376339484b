package version

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/vclock"
)

// ToClock and FromClock convert between the wire and vclock forms.
func ToClock(es []*kvpb.ClockEntry) vclock.Clock {
	if len(es) == 0 {
		return nil
	}
	c := make(vclock.Clock, len(es))
	for i, e := range es {
		c[i] = vclock.Entry{Node: e.GetNode(), Counter: e.GetCounter(), Time: e.GetTime()}
	}
	return c
}

func FromClock(c vclock.Clock) []*kvpb.ClockEntry {
	es := make([]*kvpb.ClockEntry, len(c))
	for i, e := range c {
		es[i] = &kvpb.ClockEntry{Node: e.Node, Counter: e.Counter, Time: e.Time}
	}
	return es
}

// ReadContext is what a client gets back from a vclock read: the join of
// every surviving version's past and dot, so a write with it supersedes all
// of them.
func ReadContext(vs []*kvpb.Version) vclock.Clock {
	var c vclock.Clock
	for _, v := range vs {
		c = vclock.Merge(c, ToClock(v.GetClock()))
		if d := v.GetDot(); d != nil {
			c = vclock.Merge(c, vclock.Clock{{Node: d.GetNode(), Counter: d.GetCounter(), Time: d.GetTime()}})
		}
	}
	return c
}

// EncodeContext is the opaque context a client gets back.
func EncodeContext(c vclock.Clock) []byte {
	if len(c) == 0 {
		return nil
	}
	b, err := proto.Marshal(&kvpb.Context{Clock: FromClock(c)})
	if err != nil {
		panic(fmt.Sprintf("version: encode context: %v", err)) // cannot happen for a valid message
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

// DecodeContext checks a client's context, which is client input.
func DecodeContext(b []byte) (vclock.Clock, error) {
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
	c := ToClock(ctx.GetClock())
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
