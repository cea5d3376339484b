package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/quorumlab/quorumlab/cluster"
)

// Partition shapes.
const (
	IsolateOne     = "isolate-one"
	Halves         = "halves"
	MajoritiesRing = "majorities-ring"
	Bridge         = "bridge"
)

// Shapes lists every partition shape that needs no Placement.
func Shapes() []string { return []string{IsolateOne, Halves, MajoritiesRing, Bridge} }

// CutsNothing reports whether a partition of shape over nodes nodes would
// leave every node reaching every other.
func CutsNothing(shape string, nodes int) bool {
	ids := make([]string, nodes)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	return len(Grudge(shape, ids, rand.New(rand.NewPCG(1, 1)))) == 0
}

// Grudge builds a partition of the given shape over ids: for each node, the
// nodes whose packets it drops. Every grudge is symmetric.
func Grudge(shape string, ids []string, rng *rand.Rand) cluster.Grudge {
	ids = slices.Clone(ids)
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	g := cluster.Grudge{}
	cut := func(a, b []string) {
		for _, x := range a {
			for _, y := range b {
				g[x] = append(g[x], y)
				g[y] = append(g[y], x)
			}
		}
	}
	switch shape {
	case IsolateOne:
		cut(ids[:1], ids[1:])
	case Halves:
		h := len(ids) / 2
		cut(ids[:h], ids[h:])
	case Bridge:
		// Two halves that cannot talk, and one node that talks to both.
		h := (len(ids) - 1) / 2
		cut(ids[1:1+h], ids[1+h:])
	case MajoritiesRing:
		// Each node sees itself and its m nearest neighbours on each side of
		// a ring, a majority; no two nodes see the same majority. (With three
		// nodes everyone is a neighbour: no cut.)
		k := len(ids)
		m := (k / 2) / 2
		if (k/2)%2 == 1 {
			m++
		}
		for i, x := range ids {
			for j, y := range ids {
				if d := (j - i + k) % k; min(d, k-d) > m {
					g[x] = append(g[x], y)
				}
			}
		}
	}
	for k := range g {
		slices.Sort(g[k])
		g[k] = slices.Compact(g[k])
	}
	return g
}

// flap takes f's partition away and puts it back every Config.Flap until
// the fault is undone: connections that come and go, so a transfer (a
// hint handoff, a join's stream) is cut short again and again. A flip that
// fails is retried at the next one; the undo heals regardless.
func (n *Nemesis) flap(f *fault) {
	ctx, cancel := context.WithCancel(context.Background())
	f.stopStrobe, f.strobed = cancel, make(chan struct{})
	go func() {
		defer close(f.strobed)
		t := time.NewTicker(n.cfg.Flap)
		defer t.Stop()
		holder := ""
		for cut := false; ; cut = !cut { // start made the first cut
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			fctx, done := context.WithTimeout(ctx, time.Second)
			h, hg := n.hintHolder(fctx)
			g := cluster.Grudge{} // a gap
			switch {
			case cut && h != "":
				g = hg // cut short the delivery the last gap began
				if h != holder {
					n.record("flap-"+HintHolder, map[string]any{"node": h, "grudge": hg}, nil)
				}
				holder = h
			case cut, n.cfg.Shape == HintHolder && h == "":
				// No hints yet: keep the cut that makes them.
				g = f.grudge
			}
			_ = n.cl.Partition(fctx, g)
			done()
		}
	}()
}
