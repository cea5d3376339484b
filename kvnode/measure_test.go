package kvnode_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/kvnode"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/membership"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

// Measurements of membership and repair on loopback clusters in this
// process. They take minutes, so they run only with KVNODE_MEASURE=1:
//
//	KVNODE_MEASURE=1 go test ./kvnode -run '^$' -bench Measure -benchtime 1x -timeout 30m
//
// Each reports its figures as benchmark metrics; one iteration is one
// measurement.

func measuring(b *testing.B) {
	if os.Getenv("KVNODE_MEASURE") == "" {
		b.Skip("a measurement: set KVNODE_MEASURE=1")
	}
}

// load writes keys k0…k(n-1) through every coordinator, 64 at a time.
func load(b *testing.B, tc *testCluster, coords []int, n int, opts ...client.CallOption) {
	b.Helper()
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range 64 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				k := fmt.Sprintf("k%d", i)
				if err := tc.clients[coords[w%len(coords)]].Put(ctx, k, []byte(k), nil, opts...); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d loading puts failed", f, n)
	}
}

func keysOn(b *testing.B, tc *testCluster, i int) uint64 {
	b.Helper()
	st, err := tc.clients[i].Status(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return st.GetKeys()
}

// BenchmarkMeasureJoin loads a four-node ring (N=3) and joins a fifth node:
// moved-share is the share of the stored copies that moved to it (1/5 at
// weight 1), ring-share its primary share of the token space and
// share-ratio that share over a weight-1 node's (ideally its weight). With
// N=3 a node holds a key at most once, so at weight 2 its share of the
// copies stays under its share of the tokens.
func BenchmarkMeasureJoin(b *testing.B) {
	measuring(b)
	const keys = 20000
	for _, weight := range []int{1, 2} {
		b.Run(fmt.Sprintf("weight=%d", weight), func(b *testing.B) {
			for range b.N {
				tc := startGossipCluster(b, 4, 1, func(c *kvnode.Config) {
					c.Mode, c.Fsync = version.VClock, false
					c.AntiEntropyInterval = 0
				})
				tc.cfgs[4].Weight = weight
				tc.waitView("ring formed", []int{0, 1, 2, 3}, map[string]string{
					"n1": "alive/member", "n2": "alive/member", "n3": "alive/member", "n4": "alive/member"})
				load(b, tc, []int{0, 1, 2, 3}, keys, client.WithW(3))
				start := time.Now()
				tc.start(4)
				tc.waitView("n5 joined", []int{0, 1, 2, 3, 4}, map[string]string{"n5": "alive/member"})
				joined := time.Since(start)
				var total uint64
				eventually(b, "old owners dropped what moved", func() error {
					total = 0
					for i := range 5 {
						total += keysOn(b, tc, i)
					}
					if total != 3*keys {
						return fmt.Errorf("%d copies stored, want %d", total, 3*keys)
					}
					return nil
				})
				moved := keysOn(b, tc, 4)
				st, err := tc.clients[0].Status(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				var share, others float64
				for _, m := range st.GetMembers() {
					if m.GetId() == "n5" {
						share = m.GetShare()
					} else {
						others += m.GetShare() / 4
					}
				}
				b.ReportMetric(float64(moved)/float64(total), "moved-share")
				b.ReportMetric(share, "ring-share")
				// Against a weight-1 node of the same ring.
				b.ReportMetric(share/others, "share-ratio")
				b.ReportMetric(float64(moved), "moved-copies")
				b.ReportMetric(joined.Seconds(), "join-s")
				for i := range 5 {
					tc.stop(i)
				}
			}
		})
	}
}

// BenchmarkMeasureAntiEntropy loads 100k keys on three nodes (N=3), wipes
// one node's data dir and measures how long anti-entropy (1 s interval, no
// reads) takes to give it every key back.
func BenchmarkMeasureAntiEntropy(b *testing.B) {
	measuring(b)
	const keys = 100000
	for _, fsync := range []bool{true, false} {
		b.Run(fmt.Sprintf("fsync=%v", fsync), func(b *testing.B) {
			for range b.N {
				tc := startCluster(b, 3, func(c *kvnode.Config) {
					c.Mode, c.Fsync = version.VClock, fsync
					c.AntiEntropyInterval = time.Second
				})
				load(b, tc, []int{0, 1, 2}, keys, client.WithW(3))
				tc.stop(2)
				if err := os.RemoveAll(tc.cfgs[2].DataDir); err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				tc.start(2)
				for keysOn(b, tc, 2) < keys {
					time.Sleep(100 * time.Millisecond)
				}
				b.ReportMetric(time.Since(start).Seconds(), "restore-s")
				for i := range 3 {
					tc.stop(i)
				}
			}
		})
	}
}

// BenchmarkMeasureFailureDetection crashes one node of three (no gossip
// leave, as a SIGKILL) and measures how long until a peer's status shows
// it dead, with each gossip profile.
func BenchmarkMeasureFailureDetection(b *testing.B) {
	measuring(b)
	profiles := []struct {
		name string
		cfg  func() membership.Config
	}{
		{"lan", membership.DefaultConfig},
		{"local", membership.DefaultLocalConfig},
	}
	for _, p := range profiles {
		b.Run(p.name, func(b *testing.B) {
			var sum time.Duration
			for range b.N {
				tc := startGossipCluster(b, 3, 0, func(c *kvnode.Config) {
					g := p.cfg()
					g.BindAddr, g.Seeds = c.Gossip.BindAddr, c.Gossip.Seeds
					c.Gossip = &g
				})
				tc.waitView("formed", []int{0, 1, 2}, map[string]string{"n1": "alive/member", "n2": "alive/member", "n3": "alive/member"})
				start := time.Now()
				tc.kill(2)
				for {
					v, err := tc.view(0)
					if err != nil {
						b.Fatal(err)
					}
					if v["n3"] == "dead/member" {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				sum += time.Since(start)
				tc.stop(0)
				tc.stop(1)
			}
			b.ReportMetric(sum.Seconds()/float64(b.N), "kill-to-dead-s")
		})
	}
}
