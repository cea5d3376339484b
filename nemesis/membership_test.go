package nemesis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/history"
)

func TestNextRingChange(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	tests := []struct {
		name     string
		members  []string
		left     []string
		action   string
		fromLeft string
	}{
		{"initial size, nothing left: add a spare", []string{"n1", "n2", "n3"}, nil, AddNode, ""},
		{"initial size, one left: it rejoins", []string{"n1", "n3", "n4"}, []string{"n2"}, Rejoin, "n2"},
		{"one over: decommission", []string{"n1", "n2", "n3", "n4"}, nil, Decommission, ""},
		{"one over, one left: still decommission", []string{"n1", "n3", "n4", "n5"}, []string{"n2"}, Decommission, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			action, node := nextRingChange(3, tt.members, tt.left, rng)
			if action != tt.action {
				t.Fatalf("action %s, want %s", action, tt.action)
			}
			switch action {
			case Rejoin:
				if node != tt.fromLeft {
					t.Fatalf("rejoins %s, want %s", node, tt.fromLeft)
				}
			case Decommission:
				if !slices.Contains(tt.members, node) {
					t.Fatalf("decommissions %s, not a member of %v", node, tt.members)
				}
			case AddNode:
				if node != "" {
					t.Fatalf("add names node %q", node)
				}
			}
		})
	}
}

// fakeCluster is a cluster that only keeps a node list.
type fakeCluster struct {
	cluster.Cluster // unused methods panic
	nodes           []cluster.Node
	addErr          error
}

func (c *fakeCluster) Nodes() []cluster.Node { return slices.Clone(c.nodes) }
func (c *fakeCluster) AddNode(context.Context) (cluster.Node, error) {
	if c.addErr != nil {
		return cluster.Node{}, c.addErr
	}
	n := cluster.Node{ID: fmt.Sprintf("n%d", len(c.nodes)+1)}
	c.nodes = append(c.nodes, n)
	return n, nil
}
func (c *fakeCluster) NetworkError() error { return nil }

// fakeRing records ring changes.
type fakeRing struct{ calls []string }

func (r *fakeRing) Join(_ context.Context, node string) error {
	r.calls = append(r.calls, "join "+node)
	return nil
}
func (r *fakeRing) Decommission(_ context.Context, node string) error {
	r.calls = append(r.calls, "decommission "+node)
	return nil
}

type noAdd struct{ cluster.Cluster }

func TestMembershipFault(t *testing.T) {
	cl := &fakeCluster{nodes: []cluster.Node{{ID: "n1"}, {ID: "n2"}, {ID: "n3"}}}
	ring := &fakeRing{}
	var buf bytes.Buffer
	hw := history.NewWriter(&buf)
	rec := history.NewRecorder(hw, history.NewClock())
	cfg := DefaultConfig()
	cfg.Faults = []string{Membership}
	if _, err := New(cfg, cl, nil, rec); err == nil {
		t.Fatal("membership fault accepted without the admin service")
	}
	if _, err := New(cfg, noAdd{cl}, testAdmin{join: ring.Join, decommission: ring.Decommission}, rec); err == nil {
		t.Fatal("membership fault accepted on a backend that cannot add nodes")
	}
	nem, err := New(cfg, cl, testAdmin{join: ring.Join, decommission: ring.Decommission}, rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 4 {
		if err := nem.start(ctx, Membership); err != nil {
			t.Fatal(err)
		}
		if err := nem.Heal(ctx, "stop-"+Membership); err != nil {
			t.Fatal(err)
		}
	}
	// add n4; decommission one; it rejoins; decommission one.
	if len(ring.calls) != 4 || ring.calls[0] != "join n4" {
		t.Fatalf("ring calls %v", ring.calls)
	}
	var gone string
	if _, err := fmt.Sscanf(ring.calls[1], "decommission %s", &gone); err != nil {
		t.Fatalf("second change %q, want a decommission", ring.calls[1])
	}
	if ring.calls[2] != "join "+gone {
		t.Fatalf("third change %q, want %s to rejoin", ring.calls[2], gone)
	}
	if _, err := fmt.Sscanf(ring.calls[3], "decommission %s", &gone); err != nil {
		t.Fatalf("fourth change %q, want a decommission", ring.calls[3])
	}
	if len(cl.nodes) != 4 {
		t.Fatalf("%d nodes, want one spare added once", len(cl.nodes))
	}

	hw.Close()
	ops, _, err := history.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	faults := history.Faults(ops)
	if len(faults) != 4 {
		t.Fatalf("%d membership faults in the history, want 4: %+v", len(faults), ops)
	}
	changes, err := RingChanges(faults)
	if err != nil {
		t.Fatal(err)
	}
	if want := (RingChange{AddNode, "n4"}); len(changes) != 4 || changes[0] != want {
		t.Fatalf("ring changes %+v, want 4 starting with %+v", changes, want)
	}

	// A failed change is recorded and ends at once.
	cl.addErr = errors.New("no room")
	nem.left = nil
	for len(cl.nodes) > 3 {
		cl.nodes = cl.nodes[:len(cl.nodes)-1]
	}
	if err := nem.start(ctx, Membership); err == nil {
		t.Fatal("failed add reported no error")
	}
	if nem.Active() != "" {
		t.Fatalf("a failed change stays active: %q", nem.Active())
	}
}
