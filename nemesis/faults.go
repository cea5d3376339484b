package nemesis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/quorumlab/quorumlab/cluster"
)

// targets picks one node, a minority or a majority of the cluster among the
// nodes no other node fault holds (as many as there are); none if all are
// held (n.mu held).
func (n *Nemesis) targets() ([]string, string) {
	all := n.ids()
	free := slices.DeleteFunc(slices.Clone(all), n.busy)
	if len(free) == 0 {
		return nil, ""
	}
	n.rng.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
	how := n.cfg.Targets
	if how == "" {
		how = TargetSets()[n.rng.IntN(3)]
	}
	size := map[string]int{TargetOne: 1, TargetMinority: max(1, (len(all)-1)/2),
		TargetMajority: len(all)/2 + 1, TargetAll: len(all)}[how]
	if size > len(free) {
		size, how = len(free), fmt.Sprintf("%s, cut to the %d free", how, len(free))
	}
	return free[:size], how
}

// plan chooses what a fault of kind does and reserves it in n.active; nil
// if no node is free for it.
func (n *Nemesis) plan(kind string, aimed *aimInfo) (*fault, map[string]any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	f := &fault{kind: kind}
	var value map[string]any
	switch kind {
	case Partition:
		if aimed != nil {
			v, ok := n.planAimed(f, aimed)
			if !ok {
				return nil, nil
			}
			value = v
			break
		}
		shapes := []string{n.cfg.Shape}
		if n.cfg.Shape == "" {
			shapes = Shapes()
			n.rng.Shuffle(len(shapes), func(i, j int) { shapes[i], shapes[j] = shapes[j], shapes[i] })
		}
		// A shape that cuts nothing on this cluster (majorities-ring on
		// three nodes) is no fault: never scheduled, never shaded.
		for _, shape := range shapes {
			if g := Grudge(shape, n.ids(), n.rng); len(g) > 0 {
				f.grudge = g
				value = map[string]any{"shape": shape, "grudge": g}
				break
			}
		}
		if f.grudge == nil {
			return nil, nil
		}
	case Loss:
		f.nodes = n.ids()
		value = map[string]any{"nodes": f.nodes, "rate": n.cfg.LossRate}
	case Delay:
		f.nodes = n.ids()
		value = map[string]any{"nodes": f.nodes, "delay": n.cfg.Delay.String()}
	case Kill, Pause, Clock, Strobe, Power:
		nodes, how := n.targets()
		if len(nodes) == 0 {
			return nil, nil
		}
		f.nodes = nodes
		value = map[string]any{"nodes": nodes, "targets": how}
		if clockKind(kind) {
			f.offsets = map[string]time.Duration{}
			shown := map[string]string{}
			for _, id := range nodes {
				skew := time.Duration(n.rng.Int64N(2*int64(n.cfg.MaxSkew)+1)) - n.cfg.MaxSkew
				f.offsets[id], shown[id] = skew, skew.String()
			}
			value = map[string]any{"offsets": shown, "targets": how}
			if kind == Strobe {
				value["period"] = StrobePeriod.String()
			}
		}
	}
	n.active[kind] = f
	n.summarize()
	return f, value
}

func (n *Nemesis) start(ctx context.Context, kind string) error {
	switch kind {
	case Membership:
		return n.changeRing(ctx)
	case Replace:
		return n.replace(ctx)
	}
	var aimed *aimInfo
	if kind == Partition {
		var err error
		if aimed, err = n.aim(ctx); err != nil {
			n.record("skip-"+kind, map[string]any{"reason": err.Error()}, err)
			return nil // the nodes may be down; the next turn tries again
		}
	}
	f, value := n.plan(kind, aimed)
	if f == nil {
		reason := ""
		if kind == Partition {
			reason = "no partition shape cuts anything on this cluster"
		}
		n.skip(kind, reason)
		return nil
	}
	var err error
	switch kind {
	case Partition:
		if err = n.cl.Partition(ctx, f.grudge); err == nil && n.cfg.Flap > 0 {
			value["flap"] = n.cfg.Flap.String()
			n.flap(f)
		}
	case Loss:
		err = n.cl.Loss(ctx, f.nodes, n.cfg.LossRate)
	case Delay:
		err = n.cl.(cluster.Delayer).Delay(ctx, f.nodes, n.cfg.Delay)
	case Kill:
		for _, id := range f.nodes {
			err = errors.Join(err, n.cl.Kill(ctx, id))
		}
	case Pause:
		for _, id := range f.nodes {
			err = errors.Join(err, n.cl.Pause(ctx, id))
		}
	case Power:
		// One after another, as fast as kills go: what the first loses
		// cannot be repaired from the others before they go down too.
		lost := map[string]int64{}
		for _, id := range f.nodes {
			b, e := n.cl.(cluster.PowerCutter).PowerLoss(ctx, id)
			lost[id], err = b, errors.Join(err, e)
		}
		value["lost_bytes"] = lost
	case Clock:
		for _, id := range f.nodes {
			if e := n.admin.SetClockOffset(ctx, id, f.offsets[id]); e != nil {
				err = errors.Join(err, fmt.Errorf("clock of %s: %w", id, e))
			}
		}
	case Strobe:
		// The first flip is made here, so a clock that cannot be set is
		// this fault's error, not a silent no-op.
		for _, id := range f.nodes {
			if e := n.admin.SetClockOffset(ctx, id, f.offsets[id]); e != nil {
				err = errors.Join(err, fmt.Errorf("clock of %s: %w", id, e))
			}
		}
		n.strobe(f)
	}
	// Even if it failed the fault stays active: part of it may be in
	// effect, and the final heal undoes it.
	n.mu.Lock()
	n.summarize()
	n.mu.Unlock()
	n.record("start-"+kind, value, err)
	if err != nil {
		return fmt.Errorf("nemesis %s: %w", kind, err)
	}
	return nil
}

// undo ends one fault.
func (n *Nemesis) undo(ctx context.Context, a *fault) error {
	var err error
	if a.stopStrobe != nil {
		a.stopStrobe()
		<-a.strobed
	}
	switch a.kind {
	case Partition:
		err = n.cl.Partition(ctx, cluster.Grudge{})
	case Loss:
		err = n.cl.Loss(ctx, nil, 0)
	case Delay:
		err = n.cl.(cluster.Delayer).Delay(ctx, nil, 0)
	case Kill, Power:
		for _, id := range a.nodes {
			err = errors.Join(err, n.cl.Start(ctx, id))
		}
	case Pause:
		for _, id := range a.nodes {
			err = errors.Join(err, n.cl.Resume(ctx, id))
		}
	case Clock, Strobe:
		for _, id := range a.nodes {
			if e := n.admin.SetClockOffset(ctx, id, 0); e != nil {
				err = errors.Join(err, fmt.Errorf("reset clock of %s: %w", id, e))
			}
		}
	}
	return err
}
