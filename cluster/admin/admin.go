// Package admin talks to a running kvnode cluster through the nodes' admin
// service (kvnode/client): clock offsets, joins and decommissions, whether
// the nodes have formed a cluster, and where keys live. It dials nodes by
// id, nodes added since the start included.
package admin

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/kvnode/client"
)

// Config is how the admin service is reached.
type Config struct {
	// Token authorises the admin calls (cluster.Config.AdminToken).
	Token string
	// TLS is the client side of mutual TLS; nil is plaintext.
	TLS *tls.Config
	// CallTimeout bounds each call without an earlier deadline: a join or
	// decommission returns only once its ranges have moved.
	CallTimeout time.Duration
}

// DefaultConfig has no token, plaintext and a 5 min call timeout.
func DefaultConfig() Config { return Config{CallTimeout: 5 * time.Minute} }

// Admin calls the nodes of one cluster.
type Admin struct {
	cl  cluster.Cluster
	cfg Config
}

// New returns an Admin for the nodes of cl.
func New(cl cluster.Cluster, cfg Config) *Admin { return &Admin{cl: cl, cfg: cfg} }

// Dial connects to node's admin service; the caller closes the client.
func (a *Admin) Dial(node string) (*client.Client, error) {
	for _, n := range a.cl.Nodes() {
		if n.ID == node {
			return client.Dial(n.Addr, client.Options{Timeout: a.cfg.CallTimeout, AdminToken: a.cfg.Token, TLS: a.cfg.TLS})
		}
	}
	return nil, fmt.Errorf("no node %s", node)
}

// Call runs f with a client of node, closed afterwards.
func (a *Admin) Call(ctx context.Context, node string, f func(context.Context, *client.Client) error) error {
	c, err := a.Dial(node)
	if err != nil {
		return err
	}
	defer c.Close()
	return f(ctx, c)
}

// SetClockOffset sets the offset node adds to its clock.
func (a *Admin) SetClockOffset(ctx context.Context, node string, offset time.Duration) error {
	return a.Call(ctx, node, func(ctx context.Context, c *client.Client) error {
		return c.SetClockOffset(ctx, offset)
	})
}

// Join makes node enter the ring; it returns once it is a member.
func (a *Admin) Join(ctx context.Context, node string) error {
	return a.Call(ctx, node, func(ctx context.Context, c *client.Client) error { return c.Join(ctx) })
}

// Decommission makes node hand its data over and leave the ring; it
// returns once it has left. The node keeps running.
func (a *Admin) Decommission(ctx context.Context, node string) error {
	return a.Call(ctx, node, func(ctx context.Context, c *client.Client) error { return c.Decommission(ctx) })
}
