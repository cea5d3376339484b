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
)

// RingShapes lists the shapes that aim at keys.
var RingShapes = []string{HomeReplicas, KeyPrimary, PrefMinority}

// Placement tells where keys live.
type Placement interface {
	// PreferenceLists returns each key's home replicas, in ring order.
	PreferenceLists(ctx context.Context, keys []string) (map[string][]string, error)
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

// aim fetches the preference lists a ring-aware shape needs; nil for any
// other shape.
func (n *Nemesis) aim(ctx context.Context) (map[string][]string, error) {
	if !slices.Contains(RingShapes, n.cfg.Shape) {
		return nil, nil
	}
	homes, err := n.placement.PreferenceLists(ctx, n.keys)
	if err != nil {
		return nil, fmt.Errorf("partition %s: preference lists: %w", n.cfg.Shape, err)
	}
	return homes, nil
}
