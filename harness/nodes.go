package harness

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/admin"
	"github.com/quorumlab/quorumlab/cluster/docker"
	"github.com/quorumlab/quorumlab/cluster/local"
	"github.com/quorumlab/quorumlab/internal/ctxtime"
	"github.com/quorumlab/quorumlab/target"
	"github.com/quorumlab/quorumlab/workload"
)

func startCluster(ctx context.Context, backend string, cfg cluster.Config, log *slog.Logger) (cluster.Cluster, error) {
	switch backend {
	case "local":
		return local.Start(ctx, cfg, log)
	case "docker":
		return docker.Start(ctx, cfg, log)
	}
	return nil, fmt.Errorf("unknown backend %q (want local or docker)", backend)
}

// dialAll dials every node; the pool's close closes the clients of the
// nodes still in it then (an autoscaler closes those it removes).
func dialAll(cl cluster.Cluster, cfg Config) (*workload.Pool, func(), error) {
	var targets []workload.Target
	opts := clientOptions(cfg)
	for _, n := range cl.Nodes() {
		c, err := target.Dial(targetOf(cfg), n.Addr, opts)
		if err != nil {
			for _, t := range targets {
				t.Client.Close()
			}
			return nil, nil, err
		}
		targets = append(targets, workload.Target{Node: n.ID, Client: c})
	}
	pool := workload.NewPool(targets)
	return pool, func() {
		for _, t := range pool.Targets() {
			t.Client.Close()
		}
	}, nil
}

// poolNodes are the ids of the nodes in the pool now.
func poolNodes(pool *workload.Pool) []string { return nodeIDs(pool.Targets()) }

func nodeIDs(targets []workload.Target) []string {
	ids := make([]string, len(targets))
	for i, t := range targets {
		ids[i] = t.Node
	}
	return ids
}

// waitReady waits until the cluster serves: every kvnode sees every other
// as alive, or every etcd member answers a read (a linearizable one needs a
// leader and a quorum), so the first operations do not fail only because
// peer connections are still forming.
func waitReady(ctx context.Context, cfg Config, targets []workload.Target, adm *admin.Admin, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if cfg.Cluster.Etcd() {
		return waitRead(ctx, targets)
	}
	return adm.WaitFormed(ctx, nodeIDs(targets))
}

// waitRead waits until a read through every target succeeds.
func waitRead(ctx context.Context, targets []workload.Target) error {
	for _, t := range targets {
		for {
			_, err := t.Client.Get(ctx, "quorumlab-ready")
			if err == nil {
				break
			}
			if !ctxtime.Sleep(ctx, 100*time.Millisecond) {
				return fmt.Errorf("%s: %w", t.Node, err)
			}
		}
	}
	return nil
}
