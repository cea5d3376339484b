package kvnode_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/quorumlab/quorumlab/kvnode"
)

// TestWARSLegs: a node coordinating writes and reads records all four
// one-way legs of its replica calls, and they are plausible on loopback.
func TestWARSLegs(t *testing.T) {
	ports := freePorts(t, 1)
	tc := startCluster(t, 3, func(c *kvnode.Config) {
		if c.ID == "n1" {
			c.MetricsListen = ports[0]
		}
	})
	ctx := ctxT(t)
	for i := range 50 {
		key := fmt.Sprintf("k%d", i)
		if err := tc.clients[0].Put(ctx, key, []byte("v"), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := tc.clients[0].Get(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get("http://" + ports[0] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, leg := range []string{"w", "a", "r", "s"} {
		count, sum := metric(string(body), kvnode.WARSMetric+`_count{leg="`+leg+`"}`), metric(string(body), kvnode.WARSMetric+`_sum{leg="`+leg+`"}`)
		// 50 writes and 50 reads, each to three replicas (one of them n1
		// itself, recorded too); some calls may still be in flight.
		if count < 50 || sum < 0 || sum/count > 0.5 {
			t.Errorf("leg %s: %v samples, mean %v s", leg, count, sum/count)
		}
	}
}

// metric returns the value of the sample named exactly name, -1 if absent.
func metric(body, name string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}
