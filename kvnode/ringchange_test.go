package kvnode_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/kvnode"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

// writers puts unique keys through the given coordinators until stopped and
// returns the keys whose puts were acknowledged and those that failed.
func writers(tc *testCluster, coords []int, n int) (stop func() (acked, failed []string)) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var acked, failed []string
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				k := fmt.Sprintf("w%d-%d", w, i)
				c := tc.clients[coords[i%len(coords)]]
				err := c.Put(ctx, k, []byte(k), nil)
				mu.Lock()
				if err == nil {
					acked = append(acked, k)
				} else {
					failed = append(failed, k)
					if ctx.Err() == nil {
						tc.t.Logf("put %s: %v", k, err)
					}
				}
				mu.Unlock()
				if err != nil && ctx.Err() == nil {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	return func() ([]string, []string) {
		cancel()
		wg.Wait()
		return acked, failed
	}
}

func TestJoinAndDecommission(t *testing.T) {
	tc := startGossipCluster(t, 3, 1, func(c *kvnode.Config) {
		c.Mode = version.VClock
		c.AntiEntropyInterval = 0 // the ring changes alone must move the data
		c.HandoffInterval = 100 * time.Millisecond
	})
	tc.waitView("ring formed", []int{0, 1, 2},
		map[string]string{"n1": "alive/member", "n2": "alive/member", "n3": "alive/member"})
	ctx, cancelAll := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelAll()
	const before = 300
	for i := range before {
		if err := tc.clients[i%3].Put(ctx, fmt.Sprintf("k%d", i), []byte(fmt.Sprintf("k%d", i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	stop := writers(tc, []int{0, 1, 2}, 4)

	// Join: n4 starts with --join and enters the ring.
	tc.start(3)
	tc.waitView("n4 joined", []int{0, 1, 2, 3},
		map[string]string{"n1": "alive/member", "n2": "alive/member", "n3": "alive/member", "n4": "alive/member"})
	for i := range before {
		k := fmt.Sprintf("k%d", i)
		if !slices.Contains(tc.homes(3, k), "n4") {
			continue
		}
		if got, err := tc.replicaGet(3, k); err != nil || !slices.Equal(got, []string{k}) {
			t.Fatalf("after the join n4 holds %s = %v, %v; it is one of its replicas", k, got, err)
		}
	}

	// Decommission n2 under the same load; it keeps coordinating.
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := tc.clients[1].Decommission(dctx); err != nil {
		t.Fatalf("decommission n2: %v", err)
	}
	tc.waitView("n2 left", []int{0, 1, 2, 3},
		map[string]string{"n1": "alive/member", "n2": "alive/left", "n3": "alive/member", "n4": "alive/member"})
	time.Sleep(500 * time.Millisecond) // a little more load on the new ring
	acked, failed := stop()
	if len(acked) < 100 {
		t.Fatalf("only %d writes acknowledged during the ring changes", len(acked))
	}
	for i := range before {
		acked = append(acked, fmt.Sprintf("k%d", i))
	}

	// Nothing acknowledged is lost: every key is on all three of its
	// replicas, and n2 holds nothing.
	for _, k := range acked {
		res, err := tc.clients[0].Get(ctx, k, client.WithR(3))
		if err != nil {
			t.Fatalf("read %s: %v", k, err)
		}
		if got := strs(res.Values); !slices.Equal(got, []string{k}) {
			t.Fatalf("acknowledged write of %s lost: read %v", k, got)
		}
	}
	// A failed (indeterminate) write may have reached some replicas: once
	// read, it is on all three.
	stored := len(acked)
	for _, k := range failed {
		res, err := tc.clients[0].Get(ctx, k, client.WithR(3))
		if err != nil {
			t.Fatalf("read %s: %v", k, err)
		}
		if len(res.Values) > 0 {
			stored++
		}
	}
	t.Logf("%d writes acknowledged, %d failed (%d of those applied)", len(acked)-before, len(failed), stored-len(acked))
	eventually(t, "every key on exactly its three replicas", func() error {
		var total uint64
		for i := range 4 {
			st, err := tc.clients[i].Status(ctx)
			if err != nil {
				return err
			}
			if i == 1 && st.GetKeys() != 0 {
				return fmt.Errorf("decommissioned n2 still holds %d keys", st.GetKeys())
			}
			total += st.GetKeys()
		}
		if want := 3 * uint64(stored); total != want {
			return fmt.Errorf("%d stored copies of %d keys, want %d", total, stored, want)
		}
		return nil
	})
}
