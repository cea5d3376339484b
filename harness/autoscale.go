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
	"github.com/quorumlab/quorumlab/kvnode/autoscale"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/scaler"
	"github.com/quorumlab/quorumlab/nemesis"
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
	for _, f := range []string{nemesis.Membership, nemesis.Replace} {
		if slices.Contains(cfg.Nemesis.Faults, f) {
			return fmt.Errorf("--autoscale and --nemesis %s both change the ring; one at a time", f)
		}
	}
	return nil
}

// startAutoscale runs the autoscaler until the returned stop is called,
// recording every observation and change in the history. Nodes it adds
// join the client pool and become the nemesis's to fault; a node it
// removes leaves the pool, is released by the nemesis, then decommissioned
// and stopped.
func startAutoscale(ctx context.Context, cfg Config, cl cluster.Cluster, ch *nodeChanger, nem *nemesis.Nemesis, pool *workload.Pool, rec *history.Recorder) (stop func() error) {
	if cfg.Autoscale == nil {
		return func() error { return nil }
	}
	act := &scaleActuator{ch: ch, nem: nem}
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

// scaleActuator adds and removes nodes for the autoscaler: the changer
// does the work, and the nemesis is told which nodes it may fault.
type scaleActuator struct {
	ch  *nodeChanger
	nem *nemesis.Nemesis
}

func (a *scaleActuator) Add(ctx context.Context) (string, error) {
	id, err := a.ch.Add(ctx)
	if err == nil {
		a.nem.Adopt(id)
	}
	return id, err
}

func (a *scaleActuator) Remove(ctx context.Context, id string) error {
	if !a.nem.Release(id) {
		return fmt.Errorf("%s is under a fault now", id)
	}
	if err := a.ch.Retire(ctx, id); err != nil {
		if errors.Is(err, errStillMember) {
			a.nem.Adopt(id) // it goes on serving and may be faulted
		}
		return err
	}
	return nil
}
