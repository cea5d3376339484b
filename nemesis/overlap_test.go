package nemesis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/history"
)

// stateCluster keeps what faults did to its nodes and refuses what a real
// backend could not do (pausing a killed node, skewing a dead node's clock).
type stateCluster struct {
	cluster.Cluster // unused methods panic
	nodes           []cluster.Node

	mu          sync.Mutex
	killed      map[string]bool
	paused      map[string]bool
	offsets     map[string]time.Duration
	partitioned bool
	lossy       bool
	failStarts  int // how many Starts fail before any succeeds
}

// act stands for the time a real backend takes, so that faults that are
// reserved too late collide.
func act() { time.Sleep(time.Millisecond) }

func newStateCluster(k int) *stateCluster {
	c := &stateCluster{killed: map[string]bool{}, paused: map[string]bool{}, offsets: map[string]time.Duration{}}
	for i := range k {
		c.nodes = append(c.nodes, cluster.Node{ID: fmt.Sprintf("n%d", i+1)})
	}
	return c
}

func (c *stateCluster) Nodes() []cluster.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.nodes)
}

func (c *stateCluster) NetworkError() error { return nil }

func (c *stateCluster) AddNode(context.Context) (cluster.Node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	nd := cluster.Node{ID: fmt.Sprintf("n%d", len(c.nodes)+1)}
	c.nodes = append(c.nodes, nd)
	return nd, nil
}

func (c *stateCluster) anyDown() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.killed)+len(c.paused) > 0
}

// waitingRing changes the ring only while no node is down, as a join or
// decommission waits for the replicas it streams from; it refuses nodes
// that are down themselves.
type waitingRing struct{ cl *stateCluster }

func (r waitingRing) change(ctx context.Context, node string) error {
	r.cl.mu.Lock()
	down := r.cl.killed[node] || r.cl.paused[node]
	r.cl.mu.Unlock()
	if down {
		return fmt.Errorf("ring change of %s: it is down", node)
	}
	for r.cl.anyDown() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

func (r waitingRing) Join(ctx context.Context, node string) error         { return r.change(ctx, node) }
func (r waitingRing) Decommission(ctx context.Context, node string) error { return r.change(ctx, node) }

func (c *stateCluster) Kill(_ context.Context, id string) error {
	act()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killed[id] || c.paused[id] {
		return fmt.Errorf("kill %s: already killed or paused", id)
	}
	c.killed[id] = true
	return nil
}

func (c *stateCluster) Start(_ context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failStarts > 0 {
		c.failStarts--
		return fmt.Errorf("start %s: no room", id)
	}
	delete(c.killed, id)
	return nil
}

func (c *stateCluster) Pause(_ context.Context, id string) error {
	act()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killed[id] || c.paused[id] {
		return fmt.Errorf("pause %s: killed or already paused", id)
	}
	c.paused[id] = true
	return nil
}

func (c *stateCluster) Resume(_ context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.paused, id)
	return nil
}

func (c *stateCluster) Partition(_ context.Context, g cluster.Grudge) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partitioned = len(g) > 0
	return nil
}

func (c *stateCluster) Loss(_ context.Context, ids []string, p float64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lossy = len(ids) > 0 && p > 0
	return nil
}

func (c *stateCluster) HealNetwork(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partitioned, c.lossy = false, false
	return nil
}

func (c *stateCluster) setClock(_ context.Context, id string, offset time.Duration) error {
	act()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killed[id] || c.paused[id] {
		return fmt.Errorf("clock of %s: it does not answer", id)
	}
	c.offsets[id] = offset
	return nil
}

// skewed returns the nodes whose clock is off.
func (c *stateCluster) skewed() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for id, o := range c.offsets {
		if o != 0 {
			out = append(out, id)
		}
	}
	return out
}

func TestOverlappingFaults(t *testing.T) {
	tests := []struct {
		overlap     bool
		wantOverlap bool
	}{
		{overlap: false, wantOverlap: false},
		{overlap: true, wantOverlap: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("overlap=%v", tt.overlap), func(t *testing.T) {
			cl := newStateCluster(5)
			var buf bytes.Buffer
			hw := history.NewWriter(&buf)
			rec := history.NewRecorder(hw, history.NewClock())
			cfg := DefaultConfig()
			cfg.Faults = []string{Partition, Loss, Kill, Pause, Clock, Membership}
			cfg.Interval = 10 * time.Millisecond
			cfg.Overlap = tt.overlap
			nem, err := New(cfg, cl, testAdmin{clock: cl.setClock, join: waitingRing{cl}.Join, decommission: waitingRing{cl}.Decommission}, rec)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			if err := nem.Run(ctx); err != nil {
				t.Fatalf("nemesis failed: %v", err)
			}
			if err := nem.Heal(t.Context(), history.FinalHeal); err != nil {
				t.Fatal(err)
			}
			if len(cl.killed)+len(cl.paused)+len(cl.skewed()) > 0 || cl.partitioned || cl.lossy {
				t.Fatalf("not healed: killed %v, paused %v, skewed %v, partitioned %v, lossy %v",
					cl.killed, cl.paused, cl.skewed(), cl.partitioned, cl.lossy)
			}
			hw.Close()
			ops, _, err := history.Read(&buf)
			if err != nil {
				t.Fatal(err)
			}
			faults := history.Faults(ops)
			overlapping := 0
			for i, a := range faults {
				for _, b := range faults[i+1:] {
					if b.Start >= a.End || a.Start >= b.End {
						continue
					}
					overlapping++
					if shared := sharedNodes(t, a, b); len(shared) > 0 {
						t.Fatalf("%s and %s overlap on nodes %v", a.Kind, b.Kind, shared)
					}
				}
			}
			kinds := map[string]int{}
			for _, f := range faults {
				kinds[f.Kind]++
			}
			t.Logf("%d faults (%v), %d overlapping pairs", len(faults), kinds, overlapping)
			// A ring change waits for killed nodes; their heal must not
			// wait for it, or every schedule stalls.
			for _, kind := range cfg.Faults {
				if kinds[kind] < 3 {
					t.Fatalf("%d %s faults in 1 s at a 10 ms interval: the schedule stalled", kinds[kind], kind)
				}
			}
			if (overlapping > 0) != tt.wantOverlap {
				t.Fatalf("%d overlapping pairs of faults, want overlap: %v", overlapping, tt.wantOverlap)
			}
		})
	}
}

// sharedNodes returns the nodes two node faults both hold.
func sharedNodes(t *testing.T, a, b history.Fault) []string {
	nodes := func(f history.Fault) []string {
		if f.Kind == Partition || f.Kind == Loss {
			return nil
		}
		var v struct {
			Node    string
			Nodes   []string
			Offsets map[string]string
		}
		if err := json.Unmarshal(f.Value, &v); err != nil {
			t.Fatal(err)
		}
		if v.Node != "" {
			v.Nodes = append(v.Nodes, v.Node)
		}
		for id := range v.Offsets {
			v.Nodes = append(v.Nodes, id)
		}
		return v.Nodes
	}
	var out []string
	for _, id := range nodes(a) {
		if slices.Contains(nodes(b), id) {
			out = append(out, id)
		}
	}
	return out
}

// A heal that fails keeps its fault: the history does not end it, and the
// final heal undoes it.
func TestFailedHealStaysActive(t *testing.T) {
	nem, cl, hw, buf := testNemesis(t, Kill)
	ctx := t.Context()
	if err := nem.start(ctx, Kill); err != nil {
		t.Fatal(err)
	}
	cl.failStarts = 1
	if err := nem.Heal(ctx, "stop-"+Kill); err == nil {
		t.Fatal("a heal whose restart failed reported no error")
	}
	if !strings.HasPrefix(nem.Active(), Kill+" ") {
		t.Fatalf("after the failed heal Active says %q, want the kill", nem.Active())
	}
	if err := nem.Heal(ctx, history.FinalHeal); err != nil {
		t.Fatal(err)
	}
	if len(cl.killed) > 0 || nem.Active() != "" {
		t.Fatalf("after the final heal: killed %v, active %q", cl.killed, nem.Active())
	}
	hw.Close()
	ops, _, err := history.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	var fs []string
	for _, op := range ops {
		fs = append(fs, op.F)
	}
	if want := []string{"start-kill", "heal-failed-kill", history.FinalHeal}; !slices.Equal(fs, want) {
		t.Fatalf("nemesis events %v, want %v", fs, want)
	}
	if faults := history.Faults(ops); len(faults) != 1 || faults[0].End != ops[2].Time {
		t.Fatalf("fault periods %+v: want one kill ending at the final heal", faults)
	}
}

// TestThreeNodePartitionsCut: on three nodes, 100 random partitions all
// cut something; none is the majorities ring, which would cut nothing.
func TestThreeNodePartitionsCut(t *testing.T) {
	nem, _, hw, buf := testNemesis(t, Partition)
	ctx := t.Context()
	for range 100 {
		if err := nem.start(ctx, Partition); err != nil {
			t.Fatal(err)
		}
		if err := nem.Heal(ctx, "stop-"+Partition); err != nil {
			t.Fatal(err)
		}
	}
	hw.Close()
	ops, _, err := history.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	starts := 0
	for _, op := range ops {
		if op.F != "start-"+Partition {
			continue
		}
		starts++
		var v struct {
			Shape  string              `json:"shape"`
			Grudge map[string][]string `json:"grudge"`
		}
		if err := json.Unmarshal(op.Value, &v); err != nil {
			t.Fatal(err)
		}
		if len(v.Grudge) == 0 || v.Shape == MajoritiesRing {
			t.Fatalf("op %d: partition %s with grudge %v cuts nothing", op.Index, v.Shape, v.Grudge)
		}
	}
	if starts != 100 {
		t.Fatalf("%d partitions started, want 100", starts)
	}
}

// TestHealAllRetries: a final heal whose restarts fail is tried again
// until the node is back.
func TestHealAllRetries(t *testing.T) {
	nem, cl, hw, buf := testNemesis(t, Kill)
	ctx := t.Context()
	if err := nem.start(ctx, Kill); err != nil {
		t.Fatal(err)
	}
	cl.failStarts = 2
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := nem.HealAll(hctx, 10*time.Millisecond); err != nil {
		t.Fatalf("HealAll: %v", err)
	}
	if len(cl.killed) > 0 || nem.Active() != "" {
		t.Fatalf("after HealAll: killed %v, active %q", cl.killed, nem.Active())
	}
	hw.Close()
	ops, _, err := history.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	heals := 0
	for _, op := range ops {
		if op.F == history.FinalHeal {
			heals++
		}
	}
	if heals < 2 {
		t.Fatalf("%d final heals recorded, want the failed attempts and the last", heals)
	}
}

// testNemesis is a nemesis of the given kinds over three stateful fake
// nodes, recording into a buffer.
func testNemesis(t *testing.T, kinds ...string) (*Nemesis, *stateCluster, *history.Writer, *bytes.Buffer) {
	t.Helper()
	cl := newStateCluster(3)
	buf := new(bytes.Buffer)
	hw := history.NewWriter(buf)
	cfg := DefaultConfig()
	cfg.Faults = kinds
	nem, err := New(cfg, cl, testAdmin{clock: cl.setClock}, history.NewRecorder(hw, history.NewClock()))
	if err != nil {
		t.Fatal(err)
	}
	return nem, cl, hw, buf
}
