package harness

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/admin"
	"github.com/quorumlab/quorumlab/cluster/local"
	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/target"
	"github.com/quorumlab/quorumlab/workload"
)

// TestConvergence writes keys to every replica of a real 3-node cluster
// with anti-entropy and read repair off, then compares the replicas: equal
// on the healthy cluster, diverged once a replica's data dir was wiped —
// which a quorum read (W2 R2 over the two intact replicas) would not show —
// and, by the Merkle roots alone, when a replica missed a key the
// per-key comparison does not read.
func TestConvergence(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts a cluster")
	}
	const (
		healthy = "healthy"
		wiped   = "wiped replica"
		missed  = "a replica missed an untracked key"
	)
	for _, tc := range []string{healthy, wiped, missed} {
		wipe := tc == wiped
		t.Run(tc, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cfg := cluster.Config{Nodes: 3, N: 3, W: 2, R: 2, Mode: "lww", ReadRepair: "off", Fsync: true, VNodes: 16,
				RequestTimeout: time.Second, Dir: t.TempDir(), AdminToken: "convergence-test",
				ExtraArgs: []string{"--anti-entropy-interval", "0"}}
			cl, err := local.Start(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close(context.Background())
			var buf bytes.Buffer
			hw := history.NewWriter(&buf)
			rec := history.NewRecorder(hw, history.NewClock())
			c, err := client.Dial(cl.Nodes()[0].Addr, client.Options{Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			keys := convergeKeys(workload.Config{Name: workload.Register, Keys: 12})
			for i, k := range keys {
				inv := rec.Record(history.Op{Process: 0, Type: history.Invoke, F: history.FWrite, Key: k, Value: history.Int(int64(i + 1))})
				// Right after the start a node may not yet see every peer
				// alive: wait for it rather than write to fewer replicas.
				for {
					err := c.Put(ctx, k, []byte(strconv.Itoa(i+1)), nil, client.WithW(3))
					if err == nil {
						break
					}
					if !target.Definite(err) || ctx.Err() != nil {
						t.Fatal(err)
					}
					time.Sleep(100 * time.Millisecond)
				}
				inv.Type = history.OK
				rec.Record(inv)
			}
			if wipe {
				if err := cl.Stop(ctx, "n2"); err != nil {
					t.Fatal(err)
				}
				if err := os.RemoveAll(filepath.Join(cluster.DataDir(cfg.Dir), "n2")); err != nil {
					t.Fatal(err)
				}
				if err := cl.Start(ctx, "n2"); err != nil {
					t.Fatal(err)
				}
			}
			if tc == missed {
				if err := cl.Stop(ctx, "n2"); err != nil {
					t.Fatal(err)
				}
				if err := c.Put(ctx, "untracked", []byte("1"), nil); err != nil {
					t.Fatal(err)
				}
				if err := cl.Start(ctx, "n2"); err != nil {
					t.Fatal(err)
				}
			}
			acfg := admin.DefaultConfig()
			acfg.Token = cfg.AdminToken
			if err := checkConvergence(ctx, 2*time.Second, keys, []string{"n1", "n2", "n3"}, cl, admin.New(cl, acfg), rec); err != nil {
				t.Fatal(err)
			}
			if err := hw.Close(); err != nil {
				t.Fatal(err)
			}
			ops, _, err := history.Read(&buf)
			if err != nil {
				t.Fatal(err)
			}
			res := checker.Check(ctx, ops, checker.Options{Workload: "register"})
			cv := res.Convergence
			if cv == nil || cv.Keys != len(keys) {
				t.Fatalf("convergence %+v: want all %d keys compared", cv, len(keys))
			}
			want, diverged := checker.Valid, 0
			if wipe {
				want, diverged = checker.Invalid, len(keys)
			}
			ranges := 0 // every range has all three nodes as replicas: one group
			if tc != healthy {
				want, ranges = checker.Invalid, 1
			}
			if cv.Verdict != want || cv.DivergedCount != diverged || cv.RangeGroups != 1 || cv.RangesDivergedCount != ranges {
				t.Fatalf("convergence %s with %d diverged keys and %d of %d range groups, want %s with %d and %d of 1",
					cv.Verdict, cv.DivergedCount, cv.RangesDivergedCount, cv.RangeGroups, want, diverged, ranges)
			}
			if tc == missed {
				t.Logf("Merkle witness: %s", cv.RangesDiverged[0])
			}
			if wipe {
				t.Logf("first witness: %s", cv.Diverged[0].Text)
				// The quorum read is none the wiser.
				got, err := c.Get(ctx, keys[0])
				if err != nil || len(got.Values) != 1 || string(got.Values[0]) != "1" {
					t.Fatalf("quorum read of %s: %v %v, want the written value", keys[0], got.Values, err)
				}
			}
		})
	}
}
