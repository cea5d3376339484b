package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quorumlab/quorumlab/kvnode/client"
)

// Conns are clients of a cluster's nodes, dialed once each on first use,
// for a round of calls to many nodes; Close closes them.
type Conns struct {
	admin   *Admin
	clients map[string]*client.Client
}

// Conns returns an empty set of clients.
func (a *Admin) Conns() *Conns { return &Conns{admin: a, clients: map[string]*client.Client{}} }

// Get returns the client of node, dialing it the first time.
func (c *Conns) Get(node string) (*client.Client, error) {
	if cl := c.clients[node]; cl != nil {
		return cl, nil
	}
	cl, err := c.admin.Dial(node)
	if err == nil {
		c.clients[node] = cl
	}
	return cl, err
}

// Close closes every client.
func (c *Conns) Close() {
	for _, cl := range c.clients {
		cl.Close()
	}
	clear(c.clients)
}

// PreferenceLists asks the first of nodes that answers for every key's
// home replicas.
func (c *Conns) PreferenceLists(ctx context.Context, keys, nodes []string) (map[string][]string, error) {
	var errs []error
	for _, id := range nodes {
		cl, err := c.Get(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out := map[string][]string{}
		for _, k := range keys {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			r, err := cl.Ring(rctx, k)
			cancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", id, err))
				break
			}
			out[k] = r.GetPreferenceList()
		}
		if len(out) == len(keys) {
			return out, nil
		}
	}
	return nil, fmt.Errorf("no node gave the preference lists: %w", errors.Join(errs...))
}

// Placement tells where keys live and where hints wait, asking the nodes
// that nodes returns at each call (those serving clients; retired ones
// left out). It is what the partition shapes that aim at keys need.
type Placement struct {
	admin *Admin
	nodes func() []string
}

// Placement returns a Placement that asks nodes().
func (a *Admin) Placement(nodes func() []string) Placement { return Placement{admin: a, nodes: nodes} }

// PreferenceLists returns every key's home replicas.
func (p Placement) PreferenceLists(ctx context.Context, keys []string) (map[string][]string, error) {
	conns := p.admin.Conns()
	defer conns.Close()
	return conns.PreferenceLists(ctx, keys, p.nodes())
}

// Hints returns how many hints each node that answers holds; it fails
// only if none answers.
func (p Placement) Hints(ctx context.Context) (map[string]uint64, error) {
	out := map[string]uint64{}
	var errs []error
	for _, id := range p.nodes() {
		c, err := p.admin.Dial(id)
		if err == nil {
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			st, serr := c.Status(sctx)
			cancel()
			c.Close()
			if err = serr; err == nil {
				out[id] = st.GetHints()
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
		}
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
