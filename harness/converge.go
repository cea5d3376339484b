package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/admin"

	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/internal/ctxtime"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/workload"
)

// convergeKeys are the keys a workload touched whose replicas are compared:
// those of the register and set workloads (ycsb's are too many to read
// one by one, and measure rather than check).
func convergeKeys(w workload.Config) []string {
	prefix := map[string]string{workload.Register: "r", workload.Set: "s"}[w.Name]
	if prefix == "" {
		return nil
	}
	keys := make([]string, w.Keys)
	for i := range keys {
		keys[i] = prefix + strconv.Itoa(i)
	}
	return keys
}

// checkConvergence reads every touched key from each of its home replicas
// directly until they agree and no node holds hints, or wait passes, and
// records what each replica held then, and each node's hints, in the
// history for the convergence checker.
func checkConvergence(ctx context.Context, wait time.Duration, keys []string, nodes []string, cl cluster.Cluster, adm *admin.Admin, rec *history.Recorder) error {
	if len(keys) == 0 || len(nodes) == 0 || wait <= 0 {
		return nil
	}
	conns := adm.Conns()
	defer conns.Close()
	dial := conns.Get
	start := time.Now()
	for {
		// Asked again each round: a join still streaming changes them.
		homes, err := conns.PreferenceLists(ctx, keys, nodes)
		if err != nil {
			return err
		}
		roots, err := merkleRoots(ctx, nodes, dial)
		if err != nil {
			return err
		}
		agreed := true
		for _, g := range roots {
			agreed = agreed && rootsAgree(g)
		}
		states := make([]map[string]history.Replica, len(keys))
		for i, key := range keys {
			states[i] = readReplicas(ctx, key, homes[key], dial)
			agreed = agreed && agree(states[i])
		}
		hints := nodeHints(ctx, nodes, dial, cl)
		for _, h := range hints {
			agreed = agreed && h.Hints == 0 && h.Error == ""
		}
		waited := time.Since(start)
		if agreed || waited >= wait || !ctxtime.Sleep(ctx, time.Second) {
			for i, key := range keys {
				rec.Record(history.Op{Process: history.NemesisProcess, Type: history.Info, F: history.FConverge, Key: key,
					Value: history.JSON(history.Convergence{Replicas: states[i], Waited: waited.Round(time.Millisecond).Seconds()})})
			}
			for _, h := range hints {
				rec.Record(history.Op{Process: history.NemesisProcess, Type: history.Info, F: history.FHints, Node: h.Node, Value: history.JSON(h)})
			}
			for _, g := range roots {
				rec.Record(history.Op{Process: history.NemesisProcess, Type: history.Info, F: history.FMerkle, Value: history.JSON(g)})
			}
			return ctx.Err()
		}
	}
}

// merkleRoots asks the first node that answers for the ring's ranges
// grouped by their replicas, then each replica for its Merkle root over
// its group's ranges.
func merkleRoots(ctx context.Context, nodes []string, dial func(string) (*client.Client, error)) ([]history.MerkleRoots, error) {
	var groups []*kvpb.ReplicaRange
	var errs []error
	for _, id := range nodes {
		c, err := dial(id)
		if err == nil {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			groups, err = c.ReplicaRanges(rctx)
			cancel()
		}
		if err == nil {
			break
		}
		errs = append(errs, fmt.Errorf("%s: %w", id, err))
	}
	if groups == nil && len(errs) > 0 {
		return nil, fmt.Errorf("no node gave the ring's replica ranges: %w", errors.Join(errs...))
	}
	out := make([]history.MerkleRoots, 0, len(groups))
	for _, g := range groups {
		m := history.MerkleRoots{Ranges: len(g.GetRanges())}
		for _, id := range g.GetReplicas() {
			r := history.Root{Node: id}
			c, err := dial(id)
			if err == nil {
				rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				var root uint64
				root, r.Keys, err = c.LocalRoot(rctx, g.GetRanges())
				cancel()
				r.Root = strconv.FormatUint(root, 16)
			}
			if err != nil {
				r.Root, r.Error = "", err.Error()
			}
			m.Roots = append(m.Roots, r)
		}
		out = append(out, m)
	}
	return out, nil
}

// rootsAgree reports whether every replica of a group was read and holds
// the same root.
func rootsAgree(g history.MerkleRoots) bool {
	for _, r := range g.Roots {
		if r.Error != "" || r.Root != g.Roots[0].Root {
			return false
		}
	}
	return true
}

func readReplicas(ctx context.Context, key string, homes []string, dial func(string) (*client.Client, error)) map[string]history.Replica {
	out := map[string]history.Replica{}
	for _, id := range homes {
		c, err := dial(id)
		var vs []*kvpb.Version
		if err == nil {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			vs, err = c.LocalRead(rctx, key)
			cancel()
		}
		if err != nil {
			out[id] = history.Replica{Error: err.Error()}
			continue
		}
		out[id] = replicaState(vs)
	}
	return out
}

// replicaState is a version set as the history records it: a digest of
// every version, order aside, and the live values.
func replicaState(vs []*kvpb.Version) history.Replica {
	var enc [][]byte
	var r history.Replica
	for _, v := range vs {
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(v)
		enc = append(enc, b)
		if !v.GetTombstone() {
			r.Values = append(r.Values, string(v.GetValue()))
		}
	}
	slices.SortFunc(enc, func(a, b []byte) int { return slices.Compare(a, b) })
	slices.Sort(r.Values)
	h := sha256.New()
	for _, b := range enc {
		h.Write([]byte(strconv.Itoa(len(b))))
		h.Write(b)
	}
	r.Digest = hex.EncodeToString(h.Sum(nil))[:12]
	return r
}

// agree reports whether every replica was read and holds the same set.
func agree(rs map[string]history.Replica) bool {
	digest := ""
	for _, r := range rs {
		if r.Error != "" || (digest != "" && r.Digest != digest) {
			return false
		}
		digest = r.Digest
	}
	return true
}

func nodeHints(ctx context.Context, nodes []string, dial func(string) (*client.Client, error), cl cluster.Cluster) []history.Hints {
	var out []history.Hints
	addrs := map[string]cluster.Node{}
	for _, n := range cl.Nodes() {
		addrs[n.ID] = n
	}
	for _, id := range nodes {
		h := history.Hints{Node: id}
		c, err := dial(id)
		var st *kvpb.StatusResponse
		if err == nil {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			st, err = c.Status(sctx)
			cancel()
		}
		if err != nil {
			h.Error = err.Error()
		} else {
			h.Hints = st.GetHints()
		}
		// The counters are context for the report; a failed scrape
		// leaves them 0 and the verdict rests on the count above.
		if fams, err := scrapeMetrics(ctx, addrs[id]); err == nil {
			h.Stored, h.Delivered = counter(fams, "kvnode_hints_stored_total"), counter(fams, "kvnode_hints_delivered_total")
		}
		out = append(out, h)
	}
	return out
}
