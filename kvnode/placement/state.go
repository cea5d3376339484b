// Package placement is the pure logic of ring membership: merging the
// gossiped ring state, the rings built from it, and where a request goes.
// No I/O: the node holds the state and does the gossip and storage.
package placement

import (
	"bytes"
	"maps"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

// State is the ring membership as gossiped: node id → that node's entry.
// Only a node changes its own entry, raising the version each time.
type State map[string]*kvpb.RingMember

// newer reports whether entry a supersedes b: a higher version, or on a tie
// (which only a node that lost its disk can cause) the larger encoding, so
// every node picks the same.
func newer(a, b *kvpb.RingMember) bool {
	if b == nil {
		return true
	}
	if a.GetVersion() != b.GetVersion() {
		return a.GetVersion() > b.GetVersion()
	}
	return bytes.Compare(EncodeMember(a), EncodeMember(b)) > 0
}

// EncodeMember is an entry's deterministic encoding, as gossip metadata
// and as the tie-break of two entries of one version.
func EncodeMember(m *kvpb.RingMember) []byte {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	return b
}

// Merge takes every entry of in that supersedes s's, except entries about
// self (see AdoptSelf), and reports whether s changed.
func (s State) Merge(in []*kvpb.RingMember, self string) bool {
	changed := false
	for _, e := range in {
		if e.GetId() == "" || e.GetStatus() == "" || e.GetId() == self {
			continue
		}
		if newer(e, s[e.GetId()]) {
			s[e.GetId()] = proto.Clone(e).(*kvpb.RingMember)
			changed = true
		}
	}
	return changed
}

// AdoptSelf merges what others say of this node: a newer entry (this node
// lost its disk, or restarted before hearing of its last change) gives the
// status and version; own supplies the address, zone and weight, and if they
// differ the version is raised so the correction spreads.
func (s State) AdoptSelf(in []*kvpb.RingMember, own *kvpb.RingMember) bool {
	cur := s[own.GetId()]
	changed := false
	for _, e := range in {
		if e.GetId() != own.GetId() || e.GetStatus() == "" || !newer(e, cur) {
			continue
		}
		next := proto.Clone(own).(*kvpb.RingMember)
		next.Status, next.Version = e.GetStatus(), e.GetVersion()
		if !SameFields(next, e) {
			next.Version++
		}
		s[own.GetId()], cur, changed = next, next, true
	}
	return changed
}

// SameFields compares everything but status and version.
func SameFields(a, b *kvpb.RingMember) bool {
	return a.GetAddr() == b.GetAddr() && a.GetGossipAddr() == b.GetGossipAddr() && a.GetZone() == b.GetZone() &&
		a.GetWeight() == b.GetWeight() && a.GetVnodes() == b.GetVnodes()
}

func (s State) List() []*kvpb.RingMember {
	ids := slices.Sorted(maps.Keys(s))
	out := make([]*kvpb.RingMember, len(ids))
	for i, id := range ids {
		out[i] = s[id]
	}
	return out
}

func (s State) Clone() State {
	c := make(State, len(s))
	for id, e := range s {
		c[id] = proto.Clone(e).(*kvpb.RingMember)
	}
	return c
}
