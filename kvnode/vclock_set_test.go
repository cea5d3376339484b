package kvnode_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/kvnode"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

// Concurrent read-modify-write adds to one key, as the harness's set
// workload does, through coordinators that forward to the same home
// replica: no acknowledged add may be lost. Weak quorums (W=1, R=1) make
// reads often see a replica that one write reached and another did not
// yet.
func TestVClockConcurrentAddsLoseNothing(t *testing.T) {
	tc := startCluster(t, 4, func(c *kvnode.Config) {
		c.Mode, c.N, c.W, c.R = version.VClock, 3, 1, 1
		c.ReadRepair = kvnode.ReadRepairOff
		c.AntiEntropyInterval = 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const key, clients, adds = "set", 12, 150
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			cl := tc.clients[c%len(tc.clients)]
			for i := range adds {
				res, err := cl.Get(ctx, key)
				if err != nil {
					continue
				}
				elem := fmt.Sprintf("%d-%d", c, i)
				elems := append(client.SetElements(res.Values), elem)
				if err := cl.Put(ctx, key, client.EncodeSet(elems), res.Context); err == nil {
					mu.Lock()
					acked = append(acked, elem)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	var final []string
	eventually(t, "final read", func() error {
		res, err := tc.clients[0].Get(ctx, key, client.WithR(3))
		if err != nil {
			return err
		}
		final = client.SetElements(res.Values)
		return nil
	})
	lost := 0
	for _, e := range acked {
		if !slices.Contains(final, e) {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged add %s lost", e)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged adds lost", lost, len(acked))
	}
	t.Logf("%d adds acknowledged, all present (%s)", len(acked), strconv.Itoa(len(final))+" elements")
}
