package nemesis

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/history"
)

func TestStrobe(t *testing.T) {
	cl := &fakeCluster{nodes: []cluster.Node{{ID: "n1"}, {ID: "n2"}, {ID: "n3"}}}
	var mu sync.Mutex
	calls := map[string][]time.Duration{}
	clock := func(_ context.Context, node string, off time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		calls[node] = append(calls[node], off)
		return nil
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range calls {
			n += len(c)
		}
		return n
	}
	var buf bytes.Buffer
	rec := history.NewRecorder(history.NewWriter(&buf), history.NewClock())
	cfg := DefaultConfig()
	cfg.Faults = []string{Strobe}
	nem, err := New(cfg, cl, testAdmin{clock: clock}, rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := nem.start(ctx, Strobe); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * StrobePeriod)
	if err := nem.Heal(ctx, "stop-"+Strobe); err != nil {
		t.Fatal(err)
	}
	after := count()
	time.Sleep(4 * StrobePeriod)
	if count() != after {
		t.Fatal("the clock still flips after the strobe was healed")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) == 0 {
		t.Fatal("no clock was set")
	}
	for node, offs := range calls {
		if len(offs) < 5 {
			t.Fatalf("%s: %d clock changes in %v, want a flip every %v", node, len(offs), 10*StrobePeriod, StrobePeriod)
		}
		skew := offs[0]
		for i, off := range offs[:len(offs)-1] {
			if want := map[bool]time.Duration{true: skew, false: 0}[i%2 == 0]; off != want {
				t.Fatalf("%s: offsets %v do not alternate between %v and 0", node, offs, skew)
			}
		}
		if offs[len(offs)-1] != 0 {
			t.Fatalf("%s: the heal left the offset at %v", node, offs[len(offs)-1])
		}
	}
}
