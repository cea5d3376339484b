package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/internal/ctxtime"
	"github.com/quorumlab/quorumlab/kvnode/autoscale"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/scaler"
	"github.com/quorumlab/quorumlab/nemesis"
	"github.com/quorumlab/quorumlab/target"
	"github.com/quorumlab/quorumlab/workload"
)

// validateAutoscale refuses an autoscaler the run cannot have.
func validateAutoscale(cfg Config) error {
	a := cfg.Autoscale
	if a == nil {
		return nil
	}
	if cfg.Cluster.Etcd() {
		return errors.New("--autoscale: etcd members are founded together; kvnode only")
	}
	if a.N != cfg.Cluster.N {
		return fmt.Errorf("--autoscale: N=%d, the cluster's is %d", a.N, cfg.Cluster.N)
	}
	if err := a.Validate(); err != nil {
		return fmt.Errorf("--autoscale: %w", err)
	}
	if cfg.Cluster.Nodes < a.Min || cfg.Cluster.Nodes > a.Max {
		return fmt.Errorf("--autoscale min=%d max=%d: the cluster starts with %d nodes (--nodes)", a.Min, a.Max, cfg.Cluster.Nodes)
	}
	if slices.Contains(cfg.Nemesis.Faults, nemesis.Membership) {
		return errors.New("--autoscale and --nemesis membership both change the ring; one at a time")
	}
	return nil
}

// startAutoscale runs the autoscaler until the returned stop is called,
// recording every observation and change in the history. Nodes it adds
// join the client pool and become the nemesis's to fault; a node it
// removes leaves the pool, is released by the nemesis, then decommissioned
// and stopped.
func startAutoscale(ctx context.Context, cfg Config, cl cluster.Cluster, admin ringAdmin, nem *nemesis.Nemesis, pool *workload.Pool, rec *history.Recorder) (stop func() error) {
	if cfg.Autoscale == nil {
		return func() error { return nil }
	}
	act := &scaleActuator{cl: cl, admin: admin, nem: nem, pool: pool, opts: clientOptions(cfg)}
	obs := &scaler.Observer{
		Seeds: func() []string {
			var addrs []string
			for _, t := range pool.Targets() {
				for _, n := range cl.Nodes() {
					if n.ID == t.Node {
						addrs = append(addrs, n.Addr)
					}
				}
			}
			return addrs
		},
		Client: client.Options{Timeout: 5 * time.Second, AdminToken: cfg.Cluster.AdminToken, TLS: cfg.Cluster.Secrets.ClientTLS()},
		MetricsURL: func(m autoscale.Member) string {
			for _, n := range cl.Nodes() {
				if n.ID == m.ID {
					return "http://" + net.JoinHostPort(n.IP, cluster.MetricsPort) + "/metrics"
				}
			}
			return scaler.MetricsAt(cluster.MetricsPort)(m)
		},
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var err error
	wg.Add(1)
	go func() {
		defer wg.Done()
		err = scaler.Run(ctx, *cfg.Autoscale, obs, act, func(e scaler.Event) { recordScale(rec, e) })
	}()
	return func() error {
		cancel()
		wg.Wait()
		for _, t := range act.removed {
			t.Client.Close()
		}
		return err
	}
}

// recordScale writes an autoscaler event into the history.
func recordScale(rec *history.Recorder, e scaler.Event) {
	s := history.Scale{Phase: e.Phase, Action: string(e.Decision.Action), Node: e.Node, Reason: e.Decision.Reason, Nodes: e.Decision.Nodes, Error: e.Error}
	if len(e.Load) > 0 {
		s.Load = map[string]float64{}
		for _, l := range e.Load {
			s.Load[l.Node] = l.Ops
		}
	}
	rec.Record(history.Op{Process: history.NemesisProcess, Type: history.Info, F: history.FScale, Value: history.JSON(s)})
}

// scaleActuator adds and removes nodes through the backend and the admin
// API.
type scaleActuator struct {
	cl    cluster.Cluster
	admin ringAdmin
	nem   *nemesis.Nemesis
	pool  *workload.Pool
	opts  target.Options
	// removed are the clients of removed nodes, closed when scaling stops.
	removed []workload.Target
}

func (a *scaleActuator) Add(ctx context.Context) (string, error) {
	adder, ok := a.cl.(cluster.NodeAdder)
	if !ok {
		return "", errors.New("this backend cannot add nodes")
	}
	n, err := adder.AddNode(ctx)
	if err != nil {
		return "", err
	}
	c, err := target.Dial(target.KVNode, n.Addr, a.opts)
	if err != nil {
		return n.ID, fmt.Errorf("dial %s: %w", n.ID, err)
	}
	a.pool.Add(workload.Target{Node: n.ID, Client: c})
	a.nem.Adopt(n.ID)
	return n.ID, nil
}

func (a *scaleActuator) Remove(ctx context.Context, id string) error {
	if !a.nem.Release(id) {
		return fmt.Errorf("%s is under a fault now", id)
	}
	t, inPool := a.pool.Remove(id)
	if err := a.admin.Decommission(ctx, id); err != nil {
		// Still in the ring: it goes on serving and may be faulted.
		if inPool {
			a.pool.Add(t)
		}
		a.nem.Adopt(id)
		return fmt.Errorf("decommission %s: %w", id, err)
	}
	if inPool {
		// Requests picked just before may still use it: closed at the end.
		a.removed = append(a.removed, t)
	}
	// Stopped before its peers saw it leave, it would stay "leaving" in
	// their view for good and hold every later change.
	if err := a.waitLeft(ctx, id); err != nil {
		return err
	}
	return a.cl.Stop(context.WithoutCancel(ctx), id)
}

// waitLeft waits until a node still in the pool sees id out of the ring.
func (a *scaleActuator) waitLeft(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		last, asked := "", false
		for _, t := range a.pool.Targets() {
			err := a.admin.call(ctx, t.Node, func(c *client.Client, ctx context.Context) error {
				st, err := c.Status(ctx)
				if err != nil {
					return err
				}
				for _, m := range st.GetMembers() {
					if m.GetId() == id {
						last = m.GetRingStatus()
					}
				}
				return nil
			})
			if err == nil {
				asked = true
				break
			}
		}
		switch {
		case !asked:
		case last == autoscale.RingMember, last == autoscale.RingJoining, last == autoscale.RingLeaving:
		default:
			return nil
		}
		if !ctxtime.Sleep(ctx, 200*time.Millisecond) {
			return fmt.Errorf("%s decommissioned, but its peers still see it %s", id, last)
		}
	}
}
