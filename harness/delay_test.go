package harness_test

import (
	"slices"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/harness"
	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/nemesis"
)

// TestDelay holds every packet between nodes for 100 ms (NFQUEUE, no tc
// netem here): operations begun under the fault must take at least that
// long, those outside it far less, and a linearizable register stays
// linearizable.
func TestDelay(t *testing.T) {
	const delay = 100 * time.Millisecond
	out := runTest(t, func(c *harness.Config) {
		c.Cluster.Nodes = 3
		c.Cluster.Mode = "linearizable"
		c.Workload.TimeLimit = 10 * time.Second
		c.Nemesis.Faults = []string{nemesis.Delay}
		c.Nemesis.Delay = delay
		c.Nemesis.Interval = 3 * time.Second
	})
	if out.Results.Verdict != checker.Valid {
		t.Fatalf("linearizable register under packet delay: %s", out.Results.Verdict)
	}
	ops := runHistory(t, out.Dir)
	faults := history.Faults(ops)
	pairs, err := history.Pair(ops)
	if err != nil {
		t.Fatal(err)
	}
	var in, outside []time.Duration
	for _, p := range pairs {
		if p.Completion.Type != history.OK {
			continue
		}
		d := time.Duration(p.Completion.Time - p.Invoke.Time)
		during := slices.ContainsFunc(faults, func(f history.Fault) bool { return f.Start <= p.Invoke.Time && p.Completion.Time <= f.End })
		if during {
			in = append(in, d)
		} else {
			outside = append(outside, d)
		}
	}
	median := func(ds []time.Duration) time.Duration { slices.Sort(ds); return ds[len(ds)/2] }
	if len(in) < 5 || len(outside) < 100 {
		t.Fatalf("%d ok operations under the delay, %d outside: too few to compare", len(in), len(outside))
	}
	mi, mo := median(in), median(outside)
	t.Logf("median latency %v under the delay (%d ops), %v outside (%d ops)", mi, len(in), mo, len(outside))
	if mi < delay || mo >= delay/2 {
		t.Fatalf("median latency %v under a %v delay, %v outside: the delay did not take effect", mi, delay, mo)
	}
}
