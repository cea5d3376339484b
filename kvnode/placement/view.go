package placement

import (
	"fmt"
	"slices"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/ring"
)

// View is an immutable snapshot of the ring state and the rings built from
// it. Requests load one and use it throughout.
type View struct {
	Members State
	// Current holds members and leaving nodes: it owns the data, serves
	// reads and counts writes.
	Current *ring.Ring
	// Target holds members and joining nodes: the ring once the changes
	// under way are done. Writes also go to its replicas, uncounted.
	Target *ring.Ring
	// Changing is set while a node is joining or leaving.
	Changing bool
}

func Build(s State, vnodes int) (*View, error) {
	var cur, tgt []ring.Node
	changing := false
	for _, e := range s.List() {
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
	return &View{Members: s, Current: c, Target: t, Changing: changing}, nil
}

// Status is a node's ring status in the view, kvpb.StatusNone if it has none.
func (v *View) Status(id string) string {
	if e := v.Members[id]; e != nil {
		return e.GetStatus()
	}
	return kvpb.StatusNone
}

// Placement is where one request goes.
type Placement struct {
	// Home is the key's home replicas: the first N of the current ring.
	Home []string
	// Targets are the replicas the request goes to and counts: the
	// reachable home replicas, then (sloppy) stand-ins for the others.
	Targets []string
	// HintFor maps a stand-in to the home replica it replaces.
	HintFor map[string]string
	// Pending are reachable replicas of the target ring that are not home
	// replicas (a node joining, or the next owner of a leaving node's
	// ranges): writes go to them too but do not count toward W.
	Pending []string
}

// Place computes a placement. live says whether a node can be sent a
// request now. With sloppy set, a home replica that is down is replaced by
// the next live node of the extended preference list, as in Dynamo: the
// request goes to the first N live nodes of the walk.
func Place(v *View, token uint64, n int, sloppy bool, live func(string) bool) Placement {
	var p Placement
	if !sloppy {
		p.Home = v.Current.PreferenceListForToken(token, n)
		for _, id := range p.Home {
			if live(id) {
				p.Targets = append(p.Targets, id)
			}
		}
	} else {
		ext := v.Current.PreferenceListForToken(token, v.Current.Len())
		p.Home = ext[:min(n, len(ext))]
		var down []string
		for _, id := range p.Home {
			if live(id) {
				p.Targets = append(p.Targets, id)
			} else {
				down = append(down, id)
			}
		}
		for _, id := range ext[len(p.Home):] {
			if len(down) == 0 {
				break
			}
			if live(id) {
				if p.HintFor == nil {
					p.HintFor = map[string]string{}
				}
				p.Targets = append(p.Targets, id)
				p.HintFor[id] = down[0]
				down = down[1:]
			}
		}
	}
	if v.Changing {
		for _, id := range v.Target.PreferenceListForToken(token, n) {
			if !slices.Contains(p.Home, id) && !slices.Contains(p.Targets, id) && live(id) {
				p.Pending = append(p.Pending, id)
			}
		}
	}
	return p
}

// LiveHomes returns the targets that are home replicas.
func (p Placement) LiveHomes() []string {
	var out []string
	for _, id := range p.Targets {
		if p.HintFor[id] == "" {
			out = append(out, id)
		}
	}
	return out
}

// Covered reports whether a joining self pulled every range it will own
// from at least N-W+1 of the range's current replicas (all if fewer).
func Covered(v *View, self string, n, w int, pulled map[string]bool) bool {
	need := max(1, n-w+1)
	ok := true
	ring.Segments([]*ring.Ring{v.Current, v.Target}, n, func(prefs [][]string) bool {
		if !slices.Contains(prefs[1], self) {
			return false
		}
		got := 0
		for _, id := range prefs[0] {
			if pulled[id] {
				got++
			}
		}
		if got < min(need, len(prefs[0])) {
			ok = false
		}
		return false
	})
	return ok
}

// Rebuilt reports whether self pulled every range it replicates from at
// least N-W+1 of the range's other replicas (all of them if fewer).
func Rebuilt(v *View, self string, n, w int, pulled map[string]bool) bool {
	need := max(1, n-w+1)
	ok := true
	ring.Segments([]*ring.Ring{v.Current}, n, func(prefs [][]string) bool {
		if !slices.Contains(prefs[0], self) {
			return false
		}
		got := 0
		for _, id := range prefs[0] {
			if id != self && pulled[id] {
				got++
			}
		}
		if got < min(need, len(prefs[0])-1) {
			ok = false
		}
		return false
	})
	return ok
}
