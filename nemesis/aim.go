package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/quorumlab/quorumlab/cluster"
)

// Partition shapes that aim at where keys live: they need a Placement.
const (
	// HomeReplicas cuts one key's home replicas off from every other node,
	// the coordinators that must then write elsewhere (sloppy quorums,
	// hinted handoff).
	HomeReplicas = "home-replicas"
	// KeyPrimary cuts off the first node of one key's preference list.
	KeyPrimary = "key-primary"
	// PrefMinority cuts off a set of nodes that holds a minority of every
	// key's preference list and at least one node of each (of as many as
	// it can; the history names them).
	PrefMinority = "pref-minority"
	// HintHolder cuts off the node holding the most undelivered hints;
	// while no node holds any it cuts a key's home replicas off
	// (HomeReplicas), which makes some under sloppy quorums. With
	// Config.Flap that cut is held until some node holds hints; then gaps
	// and cuts alternate, every cut aimed at whichever node then holds
	// hints, whose delivery the gap before began (flap-hint-holder).
	HintHolder = "hint-holder"
)

// RingShapes lists the shapes that aim at keys.
func RingShapes() []string { return []string{HomeReplicas, KeyPrimary, PrefMinority, HintHolder} }

// Placement tells where keys live and where hints wait.
type Placement interface {
	// PreferenceLists returns each key's home replicas, in ring order.
	PreferenceLists(ctx context.Context, keys []string) (map[string][]string, error)
	// Hints returns each answering node's count of undelivered hints.
	Hints(ctx context.Context) (map[string]uint64, error)
}

// aimInfo is what a ring-aware shape is planned from.
type aimInfo struct {
	homes map[string][]string
	hints map[string]uint64 // HintHolder only
}

// hintHolderGrudge cuts the node holding the most hints (ties: the first
// id) off from every other; "" and nil if no node of ids holds any.
func hintHolderGrudge(ids []string, hints map[string]uint64) (string, cluster.Grudge) {
	holder := ""
	for _, id := range ids {
		if hints[id] > 0 && (holder == "" || hints[id] > hints[holder]) {
			holder = id
		}
	}
	if holder == "" || len(ids) < 2 {
		return "", nil
	}
	g := cluster.Grudge{}
	for _, id := range ids {
		if id != holder {
			g[holder] = append(g[holder], id)
			g[id] = []string{holder}
		}
	}
	slices.Sort(g[holder])
	return holder, g
}

// WithPlacement gives the ring-aware partition shapes the workload's keys
// and where they live.
func WithPlacement(p Placement, keys []string) Option {
	return func(n *Nemesis) { n.placement, n.keys = p, slices.Clone(keys) }
}

// RingGrudge builds a partition of a ring-aware shape over ids, given the
// keys' preference lists; an empty grudge if the shape cuts nothing here.
func RingGrudge(shape string, ids []string, homes map[string][]string, rng *rand.Rand) (cluster.Grudge, []string) {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k, p := range homes {
			if len(p) > 0 && !yield(k) {
				return
			}
		}
	})
	if len(keys) == 0 {
		return nil, nil
	}
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	var side []string
	var aimedAt []string
	switch shape {
	case HomeReplicas:
		side, aimedAt = homes[keys[0]], keys[:1]
	case KeyPrimary:
		side, aimedAt = homes[keys[0]][:1], keys[:1]
	case PrefMinority:
		// Greedy, over a few key orders: the order decides which sets a
		// list's first cut node rules out; keep the one that aims at most.
		for range 32 {
			rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			s, a := minorityCut(keys, homes, rng)
			if len(a) > len(aimedAt) {
				side, aimedAt = s, a
			}
			if len(aimedAt) == len(keys) {
				break
			}
		}
	default:
		return nil, nil
	}
	var rest []string
	for _, id := range ids {
		if !slices.Contains(side, id) {
			rest = append(rest, id)
		}
	}
	if len(rest) == 0 || len(rest) == len(ids) {
		return nil, nil
	}
	g := cluster.Grudge{}
	for _, x := range side {
		if !slices.Contains(ids, x) {
			continue
		}
		for _, y := range rest {
			g[x] = append(g[x], y)
			g[y] = append(g[y], x)
		}
	}
	for k := range g {
		slices.Sort(g[k])
	}
	slices.Sort(aimedAt)
	return g, aimedAt
}

// minorityCut gives each list in turn one cut node unless it has one,
// never letting any list lose half of its nodes or more.
func minorityCut(keys []string, homes map[string][]string, rng *rand.Rand) (side, aimed []string) {
	for _, k := range keys {
		list := homes[k]
		if slices.ContainsFunc(list, func(id string) bool { return slices.Contains(side, id) }) {
			aimed = append(aimed, k)
			continue
		}
		cand := slices.Clone(list)
		rng.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
		for _, c := range cand {
			if minorityEverywhere(append(slices.Clone(side), c), homes) {
				side = append(side, c)
				aimed = append(aimed, k)
				break
			}
		}
	}
	return side, aimed
}

// minorityEverywhere reports whether side holds fewer than half of every
// preference list.
func minorityEverywhere(side []string, homes map[string][]string) bool {
	for _, list := range homes {
		cut := 0
		for _, id := range list {
			if slices.Contains(side, id) {
				cut++
			}
		}
		if 2*cut >= len(list) {
			return false
		}
	}
	return true
}

// aim fetches what a ring-aware shape needs; nil for any other shape.
func (n *Nemesis) aim(ctx context.Context) (*aimInfo, error) {
	if !slices.Contains(RingShapes(), n.cfg.Shape) {
		return nil, nil
	}
	homes, err := n.placement.PreferenceLists(ctx, n.keys)
	if err != nil {
		return nil, fmt.Errorf("partition %s: preference lists: %w", n.cfg.Shape, err)
	}
	a := &aimInfo{homes: homes}
	if n.cfg.Shape == HintHolder {
		if a.hints, err = n.placement.Hints(ctx); err != nil {
			return nil, fmt.Errorf("partition %s: hints: %w", n.cfg.Shape, err)
		}
	}
	return a, nil
}

// hintHolder is, for the hint-holder shape, the node now holding the most
// hints and the grudge that cuts it off; "" otherwise or if none holds any.
func (n *Nemesis) hintHolder(ctx context.Context) (string, cluster.Grudge) {
	if n.cfg.Shape != HintHolder || n.placement == nil {
		return "", nil
	}
	hints, err := n.placement.Hints(ctx)
	if err != nil {
		return "", nil
	}
	n.mu.Lock()
	ids := n.ids()
	n.mu.Unlock()
	return hintHolderGrudge(ids, hints)
}

// planAimed plans a ring-aware partition into f (n.mu held); false if it
// cuts nothing.
func (n *Nemesis) planAimed(f *fault, a *aimInfo) (map[string]any, bool) {
	if n.cfg.Shape == HintHolder {
		if holder, g := hintHolderGrudge(n.ids(), a.hints); holder != "" {
			f.grudge = g
			return map[string]any{"shape": HintHolder, "grudge": g, "node": holder, "hints": a.hints[holder]}, true
		}
	}
	shape := n.cfg.Shape
	if shape == HintHolder {
		shape = HomeReplicas // no hints yet: make some
	}
	g, keys := RingGrudge(shape, n.ids(), a.homes, n.rng)
	if len(g) == 0 {
		return nil, false
	}
	f.grudge = g
	aimed := map[string][]string{}
	for _, k := range keys {
		aimed[k] = a.homes[k]
	}
	v := map[string]any{"shape": shape, "grudge": g, "keys": aimed}
	if shape != n.cfg.Shape {
		v["instead_of"] = n.cfg.Shape + ": no node holds hints"
	}
	return v, true
}
