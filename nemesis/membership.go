package nemesis

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/history"
)

// Ring changes.
const (
	AddNode      = "add-node"     // a spare node starts and joins the ring
	Rejoin       = "join"         // a decommissioned node joins again
	Decommission = "decommission" // a member hands its data over and leaves
)

// nextRingChange picks the next membership change. The ring alternates
// between its initial size and one more: when it is at its initial size a
// node joins (one decommissioned before, else a new spare); otherwise a
// random member is decommissioned.
func nextRingChange(initial int, members, left []string, rng *rand.Rand) (action, node string) {
	if len(members) <= initial {
		if len(left) > 0 {
			return Rejoin, left[0]
		}
		return AddNode, ""
	}
	return Decommission, members[rng.IntN(len(members))]
}

// RingChange is a membership change as the history records it.
type RingChange struct{ Action, Node string }

// RingChanges returns the membership changes among a history's faults.
func RingChanges(faults []history.Fault) ([]RingChange, error) {
	var out []RingChange
	for _, f := range faults {
		if f.Kind != Membership {
			continue
		}
		var c RingChange
		if err := json.Unmarshal(f.Value, &c); err != nil {
			return nil, fmt.Errorf("membership fault at %d ns: %w", f.Start, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// planRingChange chooses the next membership change among nodes no other
// fault holds and reserves it; ok is false if there is none.
func (n *Nemesis) planRingChange() (f *fault, action, node string, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	members := slices.DeleteFunc(n.ids(), func(id string) bool { return slices.Contains(n.left, id) })
	action, node = nextRingChange(n.initial, members, n.left, n.rng)
	if action == Decommission && n.busy(node) {
		free := slices.DeleteFunc(members, n.busy)
		if len(free) == 0 {
			return nil, "", "", false
		}
		node = free[n.rng.IntN(len(free))]
	}
	if action == Rejoin && n.busy(node) {
		return nil, "", "", false // killed or paused: it cannot join now
	}
	f = &fault{kind: Membership}
	if node != "" {
		f.nodes = []string{node}
	}
	n.active[Membership] = f
	n.summarize()
	return f, action, node, true
}

// changeRing applies the next membership change. Its start is recorded
// before the ring changes, since that takes a while (data streams); a
// failure ends the fault at once.
func (n *Nemesis) changeRing(ctx context.Context) error {
	f, action, node, ok := n.planRingChange()
	if !ok {
		n.skip(Membership, "")
		return nil
	}
	readBack := n.coldKeys(ctx)
	var err error
	if action == AddNode {
		// The backend names the node: start it first (it is not in the
		// ring before it joins, which is the change recorded). Other faults
		// leave it alone until it is known, and then it is reserved.
		var added cluster.Node
		added, err = n.cl.(cluster.NodeAdder).AddNode(ctx)
		node = added.ID
		if err == nil {
			n.mu.Lock()
			n.known[node] = true
			f.nodes = []string{node}
			n.mu.Unlock()
		}
	}
	n.mu.Lock()
	n.summarize()
	n.mu.Unlock()
	value := map[string]any{"action": action, "node": node}
	n.record("start-"+Membership, value, nil)
	if err == nil {
		switch action {
		case AddNode, Rejoin:
			err = n.admin.Join(ctx, node)
		case Decommission:
			err = n.admin.Decommission(ctx, node)
		}
	}
	n.mu.Lock()
	switch {
	case err != nil:
		delete(n.active, Membership)
		n.summarize()
	case action == Rejoin:
		n.left = slices.DeleteFunc(n.left, func(id string) bool { return id == node })
	case action == Decommission:
		n.left = append(n.left, node)
	}
	n.mu.Unlock()
	if err != nil {
		n.record("stop-"+Membership, value, err)
		if node == "" {
			node = "(a spare node)"
		}
		return fmt.Errorf("nemesis membership %s %s: %w", action, node, err)
	}
	readBack(ctx)
	return nil
}
