package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/quorumlab/quorumlab/kvnode"
	"github.com/quorumlab/quorumlab/kvnode/membership"
)

// gossipFlags are serve's gossip membership flags.
type gossipFlags struct {
	join      string
	listen    string
	advertise string
	profile   string
}

func (g *gossipFlags) register(f *pflag.FlagSet) {
	f.StringVar(&g.join, "join", "", "gossip membership: seeds' gossip addresses host:port,… (this node's own may be among them); "+
		"the ring is built from the members that joined it")
	f.StringVar(&g.listen, "gossip-listen", "", fmt.Sprintf("gossip address, UDP and TCP (default: --listen's host, port + %d); setting it enables gossip", kvnode.GossipPortOffset))
	f.StringVar(&g.advertise, "gossip-advertise", "", "gossip address other nodes reach this one at (default --gossip-listen)")
	f.StringVar(&g.profile, "gossip-profile", "lan", "failure detector timings: lan (memberlist's LAN defaults: 1 s probes) or local (one machine: 200 ms probes)")
}

// config returns the gossip configuration, or nil for static membership
// (neither --join nor --gossip-listen).
func (g *gossipFlags) config(cmd *cobra.Command, listen string) (*membership.Config, error) {
	if g.join == "" && !cmd.Flags().Changed("gossip-listen") {
		return nil, nil
	}
	var c membership.Config
	switch g.profile {
	case "lan":
		c = membership.DefaultConfig()
	case "local":
		c = membership.DefaultLocalConfig()
	default:
		return nil, fmt.Errorf("--gossip-profile %q: want lan or local", g.profile)
	}
	c.BindAddr = g.listen
	if c.BindAddr == "" {
		a, err := kvnode.DefaultGossipAddr(listen)
		if err != nil {
			return nil, fmt.Errorf("--gossip-listen: %w", err)
		}
		c.BindAddr = a
	}
	c.AdvertiseAddr = g.advertise
	for _, s := range strings.Split(g.join, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.Seeds = append(c.Seeds, s)
		}
	}
	return &c, nil
}

func joinCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "join",
		Short: "Make a node (started with --join) enter the ring; waits until it is a member (needs the admin token)",
		Long: `Make the node at --addr enter the ring: it pulls the ranges it will own from
their current owners, then serves them. Nodes started with --join do this at
start unless --ring-join=false or they were decommissioned. If --timeout
passes first, the join goes on in the background.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return adminWait(cmd.Context(), cf, func(ctx context.Context, cl adminClient) error { return cl.Join(ctx) })
		},
	}
	cmd.Flags().StringVar(&cf.addr, "addr", "127.0.0.1:7001", "the node to join")
	cmd.Flags().DurationVar(&cf.timeout, "timeout", 10*time.Minute, "how long to wait for the join")
	cmd.Flags().StringVar(&cf.token, "admin-token", "", "admin token (default $KVNODE_ADMIN_TOKEN)")
	return cmd
}

func decommissionCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "decommission",
		Short: "Take a node out of the ring: it streams its data to the new owners, then leaves (needs the admin token)",
		Long: `Take the node at --addr out of the ring: it hands its ranges and hints to
their next owners, then leaves the ring. The process keeps running and still
coordinates requests; stop it when you like. A node that is merely down stays
in the ring: decommission is the only way out. If --timeout passes first, the
decommission goes on in the background.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return adminWait(cmd.Context(), cf, func(ctx context.Context, cl adminClient) error { return cl.Decommission(ctx) })
		},
	}
	cmd.Flags().StringVar(&cf.addr, "addr", "127.0.0.1:7001", "the node to decommission")
	cmd.Flags().DurationVar(&cf.timeout, "timeout", 10*time.Minute, "how long to wait for the decommission")
	cmd.Flags().StringVar(&cf.token, "admin-token", "", "admin token (default $KVNODE_ADMIN_TOKEN)")
	return cmd
}

type adminClient interface {
	Join(ctx context.Context) error
	Decommission(ctx context.Context) error
}

func adminWait(ctx context.Context, cf clientFlags, call func(context.Context, adminClient) error) error {
	c, err := cf.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	return call(ctx, c)
}
