package kvnode_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/kvnode"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

// Deleted keys keep their tombstones for the grace period, on every
// replica, and are then removed from storage; keys written again after a
// delete and never-deleted keys stay. Linearizable mode keeps tombstones.
func TestTombstoneCollection(t *testing.T) {
	const grace = 1500 * time.Millisecond
	cases := []struct {
		mode    version.Mode
		collect bool
	}{
		{version.LWW, true},
		{version.VClock, true},
		{version.Linearizable, false},
	}
	for _, c := range cases {
		t.Run(string(c.mode), func(t *testing.T) {
			tc := startCluster(t, 3, func(cfg *kvnode.Config) {
				cfg.Mode, cfg.Fsync, cfg.TombstoneGrace = c.mode, false, grace
				cfg.AntiEntropyInterval = 200 * time.Millisecond
			})
			ctx := ctxT(t)
			cl := tc.clients[0]
			for i := range 10 {
				if err := cl.Put(ctx, fmt.Sprintf("k%d", i), []byte("v"), nil, client.WithW(3)); err != nil {
					t.Fatal(err)
				}
			}
			deleted := time.Now()
			// k0…k4 deleted; k4 written again after its delete.
			for i := range 5 {
				key := fmt.Sprintf("k%d", i)
				res, err := cl.Get(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				if err := cl.Delete(ctx, key, res.Context, client.WithW(3)); err != nil {
					t.Fatal(err)
				}
			}
			res, err := cl.Get(ctx, "k4")
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.Put(ctx, "k4", []byte("again"), res.Context, client.WithW(3)); err != nil {
				t.Fatal(err)
			}
			keys := func() []uint64 {
				var ks []uint64
				for _, c := range tc.clients {
					st, err := c.Status(ctx)
					if err != nil {
						t.Fatal(err)
					}
					ks = append(ks, st.GetKeys())
				}
				return ks
			}
			// Within the grace period every replica holds the tombstones.
			if ks := keys(); time.Since(deleted) < grace && fmt.Sprint(ks) != "[10 10 10]" {
				t.Fatalf("within the grace period: keys stored per node %v, want 10 each", ks)
			}
			want := "[10 10 10]"
			if c.collect {
				want = "[6 6 6]"
			}
			eventually(t, "tombstones collected", func() error {
				if ks := fmt.Sprint(keys()); ks != want {
					return fmt.Errorf("keys stored per node %s, want %s", ks, want)
				}
				return nil
			})
			time.Sleep(grace + time.Second) // anti-entropy must not bring anything back
			if ks := fmt.Sprint(keys()); ks != want {
				t.Errorf("after another grace period: keys stored per node %s, want %s", ks, want)
			}
			for i := range 10 {
				key := fmt.Sprintf("k%d", i)
				res, err := cl.Get(ctx, key, client.WithR(3))
				if err != nil {
					t.Fatal(err)
				}
				want := "[v]"
				switch {
				case i == 4:
					want = "[again]"
				case i < 4:
					want = "[]"
				}
				if got := fmt.Sprintf("%s", res.Values); got != want {
					t.Errorf("get %s = %s, want %s", key, got, want)
				}
			}
		})
	}
}

// In vclock mode a node that is not a home replica of a key forwards the
// client's delete to one: the key must read as deleted, not as an empty
// value.
func TestVClockDeleteThroughNonHome(t *testing.T) {
	tc := startCluster(t, 4, func(cfg *kvnode.Config) {
		cfg.Mode, cfg.Fsync = version.VClock, false
	})
	ctx := ctxT(t)
	ids := []string{"n1", "n2", "n3", "n4"}
	for i := range 20 {
		key := fmt.Sprintf("k%d", i)
		homes := tc.homes(0, key)
		other := slices.IndexFunc(ids, func(id string) bool { return !slices.Contains(homes, id) })
		if other < 0 {
			t.Fatalf("%s: homes %v cover all four nodes with N=3", key, homes)
		}
		cl := tc.clients[other]
		if err := cl.Put(ctx, key, []byte("v"), nil); err != nil {
			t.Fatal(err)
		}
		res, err := cl.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Delete(ctx, key, res.Context); err != nil {
			t.Fatalf("delete %s through %s: %v", key, ids[other], err)
		}
		res, err = cl.Get(ctx, key, client.WithR(3))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Values) != 0 {
			t.Errorf("%s deleted through %s (homes %v) reads %q, want no value", key, ids[other], homes, res.Values)
		}
	}
}
