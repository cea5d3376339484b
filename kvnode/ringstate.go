package kvnode

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/ring"
)

// This file is the pure logic of ring membership: merging the gossiped ring
// state, the rings built from it, and where a request goes. No I/O.

// ringState is the ring membership as gossiped: node id → that node's entry.
// Only a node changes its own entry, raising the version each time.
type ringState map[string]*kvpb.RingMember

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
	return bytes.Compare(encodeMember(a), encodeMember(b)) > 0
}

func encodeMember(m *kvpb.RingMember) []byte {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	return b
}

// merge takes every entry of in that supersedes s's, except entries about
// self (see adoptSelf), and reports whether s changed.
func (s ringState) merge(in []*kvpb.RingMember, self string) bool {
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

// adoptSelf merges what others say of this node: a newer entry (this node
// lost its disk, or restarted before hearing of its last change) gives the
// status and version; own supplies the address, zone and weight, and if they
// differ the version is raised so the correction spreads.
func (s ringState) adoptSelf(in []*kvpb.RingMember, own *kvpb.RingMember) bool {
	cur := s[own.GetId()]
	changed := false
	for _, e := range in {
		if e.GetId() != own.GetId() || e.GetStatus() == "" || !newer(e, cur) {
			continue
		}
		next := proto.Clone(own).(*kvpb.RingMember)
		next.Status, next.Version = e.GetStatus(), e.GetVersion()
		if !sameFields(next, e) {
			next.Version++
		}
		s[own.GetId()], cur, changed = next, next, true
	}
	return changed
}

// sameFields compares everything but status and version.
func sameFields(a, b *kvpb.RingMember) bool {
	return a.GetAddr() == b.GetAddr() && a.GetGossipAddr() == b.GetGossipAddr() && a.GetZone() == b.GetZone() &&
		a.GetWeight() == b.GetWeight() && a.GetVnodes() == b.GetVnodes()
}

func (s ringState) list() []*kvpb.RingMember {
	ids := slices.Sorted(maps.Keys(s))
	out := make([]*kvpb.RingMember, len(ids))
	for i, id := range ids {
		out[i] = s[id]
	}
	return out
}

func (s ringState) clone() ringState {
	c := make(ringState, len(s))
	for id, e := range s {
		c[id] = proto.Clone(e).(*kvpb.RingMember)
	}
	return c
}

// view is an immutable snapshot of the ring state and the rings built from
// it. Requests load one and use it throughout.
type view struct {
	members ringState
	// current holds members and leaving nodes: it owns the data, serves
	// reads and counts writes.
	current *ring.Ring
	// target holds members and joining nodes: the ring once the changes
	// under way are done. Writes also go to its replicas, uncounted.
	target *ring.Ring
	// changing is set while a node is joining or leaving.
	changing bool
}

func buildView(s ringState, vnodes int) (*view, error) {
	var cur, tgt []ring.Node
	changing := false
	for _, e := range s.list() {
		n := ring.Node{ID: e.GetId(), Zone: e.GetZone(), Weight: int(e.GetWeight())}
		switch e.GetStatus() {
		case kvpb.StatusMember:
			cur, tgt = append(cur, n), append(tgt, n)
		case kvpb.StatusLeaving:
			cur, changing = append(cur, n), true
		case kvpb.StatusJoining:
			tgt, changing = append(tgt, n), true
		}
	}
	c, err := ring.New(cur, vnodes)
	if err != nil {
		return nil, fmt.Errorf("current ring: %w", err)
	}
	t, err := ring.New(tgt, vnodes)
	if err != nil {
		return nil, fmt.Errorf("target ring: %w", err)
	}
	return &view{members: s, current: c, target: t, changing: changing}, nil
}

// status is a node's ring status in the view, kvpb.StatusNone if it has none.
func (v *view) status(id string) string {
	if e := v.members[id]; e != nil {
		return e.GetStatus()
	}
	return kvpb.StatusNone
}

// placement is where one request goes.
type placement struct {
	// home is the key's home replicas: the first N of the current ring.
	home []string
	// targets are the replicas the request goes to and counts: the
	// reachable home replicas, then (sloppy) stand-ins for the others.
	targets []string
	// hintFor maps a stand-in to the home replica it replaces.
	hintFor map[string]string
	// pending are reachable replicas of the target ring that are not home
	// replicas (a node joining, or the next owner of a leaving node's
	// ranges): writes go to them too but do not count toward W.
	pending []string
}

// place computes a placement. live says whether a node can be sent a
// request now. With sloppy set, a home replica that is down is replaced by
// the next live node of the extended preference list, as in Dynamo: the
// request goes to the first N live nodes of the walk.
func place(v *view, token uint64, n int, sloppy bool, live func(string) bool) placement {
	var p placement
	if !sloppy {
		p.home = v.current.PreferenceListForToken(token, n)
		for _, id := range p.home {
			if live(id) {
				p.targets = append(p.targets, id)
			}
		}
	} else {
		ext := v.current.PreferenceListForToken(token, v.current.Len())
		p.home = ext[:min(n, len(ext))]
		var down []string
		for _, id := range p.home {
			if live(id) {
				p.targets = append(p.targets, id)
			} else {
				down = append(down, id)
			}
		}
		for _, id := range ext[len(p.home):] {
			if len(down) == 0 {
				break
			}
			if live(id) {
				if p.hintFor == nil {
					p.hintFor = map[string]string{}
				}
				p.targets = append(p.targets, id)
				p.hintFor[id] = down[0]
				down = down[1:]
			}
		}
	}
	if v.changing {
		for _, id := range v.target.PreferenceListForToken(token, n) {
			if !slices.Contains(p.home, id) && !slices.Contains(p.targets, id) && live(id) {
				p.pending = append(p.pending, id)
			}
		}
	}
	return p
}

// liveHomes returns the targets that are home replicas.
func (p placement) liveHomes() []string {
	var out []string
	for _, id := range p.targets {
		if p.hintFor[id] == "" {
			out = append(out, id)
		}
	}
	return out
}
