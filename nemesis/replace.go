package nemesis

import (
	"context"
	"fmt"
)

// Replace is a rolling replacement: each fault joins a fresh node, then
// decommissions and stops one of the original nodes, until none is left.
// Afterwards the data lives only on nodes that got it through transfers.
// Its stop undoes nothing.
const Replace = "replace"

// Replacer adds and retires nodes for the replace fault, keeping whatever
// else depends on the node set (the clients) in step.
type Replacer interface {
	// Add starts a node that joins the ring and returns its id.
	Add(ctx context.Context) (string, error)
	// Retire decommissions the node, waits until its peers see it gone,
	// and stops it.
	Retire(ctx context.Context, id string) error
}

// WithReplacer gives the nemesis what the replace fault needs.
func WithReplacer(r Replacer) Option { return func(n *Nemesis) { n.replacer = r } }

// ColdKeys writes fresh keys once each before a ring change and returns
// what reads them back; the membership and replace faults read them right
// after each step of the change, before rebalancing can hide a range the
// change missed.
type ColdKeys func(ctx context.Context) (readBack func(ctx context.Context))

// WithColdKeys makes ring changes write and read back cold keys.
func WithColdKeys(c ColdKeys) Option { return func(n *Nemesis) { n.cold = c } }

// coldKeys writes a round of cold keys if the nemesis has them; the
// returned reader does nothing otherwise.
func (n *Nemesis) coldKeys(ctx context.Context) func(context.Context) {
	if n.cold == nil {
		return func(context.Context) {}
	}
	return n.cold(ctx)
}

// replace replaces the next original node that no other fault holds. The
// start is recorded once the new node runs, before it joins.
func (n *Nemesis) replace(ctx context.Context) error {
	n.mu.Lock()
	old, left := "", 0
	for _, id := range n.ids() {
		if !n.original[id] {
			continue
		}
		left++
		if old == "" && !n.busy(id) {
			old = id
		}
	}
	if old == "" {
		n.mu.Unlock()
		reason := ""
		if left == 0 {
			reason = "every original node has been replaced"
		}
		n.skip(Replace, reason)
		return nil
	}
	f := &fault{kind: Replace, nodes: []string{old}}
	n.active[Replace] = f
	n.summarize()
	n.mu.Unlock()
	readBack := n.coldKeys(ctx)

	added, err := n.replacer.Add(ctx)
	if added != "" {
		n.mu.Lock()
		n.known[added] = true
		f.nodes = append(f.nodes, added)
		n.summarize()
		n.mu.Unlock()
	}
	value := map[string]any{"add": added, "remove": old}
	n.record("start-"+Replace, value, nil)
	if err == nil {
		err = n.admin.Join(ctx, added)
	}
	if err == nil {
		readBack(ctx)
		if err = n.replacer.Retire(ctx, old); err == nil {
			readBack(ctx)
			n.mu.Lock()
			delete(n.known, old)
			delete(n.original, old)
			n.mu.Unlock()
		}
	}
	if err != nil {
		n.mu.Lock()
		delete(n.active, Replace)
		n.summarize()
		n.mu.Unlock()
		n.record("stop-"+Replace, value, err)
		return fmt.Errorf("nemesis replace %s: %w", old, err)
	}
	return nil
}
