package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/quorumlab/quorumlab/kvnode/autoscale"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/scaler"
)

func autoscaleCmd(stdout io.Writer) *cobra.Command {
	var (
		cf                           clientFlags
		seeds, policy, addCmd, rmCmd string
		n                            int
		clientPort, metricsPort      string
	)
	cmd := &cobra.Command{
		Use:   "autoscale",
		Short: "Add and decommission nodes of a running cluster by its load (needs the admin token)",
		Long: `Watch a running kvnode cluster and resize it by its load: every interval it
reads kvnode status from a seed and each member's Prometheus metrics
(requests/s, p99, requests in flight), and decides by --policy. To add a node
it runs --exec-add, which must start a kvnode that joins by itself
(kvnode serve --join … --ring-join); to remove one it decommissions the node
and, once it has left the ring, runs --exec-remove with $KVNODE_NODE set to
its id. One change at a time; never below N nodes. Each observation and
change is printed as a JSON line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if seeds == "" || addCmd == "" || rmCmd == "" {
				return usageErr("--join, --exec-add and --exec-remove are required")
			}
			cfg, err := autoscale.ParseSpec(policy, n)
			if err != nil {
				return usageErr("--policy: %v", err)
			}
			opts, err := cf.options()
			if err != nil {
				return err
			}
			obs := &scaler.Observer{
				Seeds:      func() []string { return strings.Split(seeds, ",") },
				Client:     opts,
				MetricsURL: scaler.MetricsAt(metricsPort),
			}
			act := scaler.Exec{AddCmd: addCmd, RemoveCmd: rmCmd, Admin: func(ctx context.Context, id string) (*client.Client, error) {
				o, err := obs.Observe(ctx)
				if err != nil {
					return nil, err
				}
				for _, m := range o.Members {
					if m.ID == id {
						host, _, err := net.SplitHostPort(m.Addr)
						if err != nil {
							return nil, fmt.Errorf("address of %s: %w", id, err)
						}
						dopts := opts
						dopts.Timeout = scaler.ChangeTimeout
						return client.Dial(net.JoinHostPort(host, clientPort), dopts)
					}
				}
				return nil, fmt.Errorf("no member %s", id)
			}}
			enc := json.NewEncoder(stdout)
			return scaler.Run(cmd.Context(), cfg, obs, act, func(e scaler.Event) {
				enc.Encode(struct {
					Time time.Time `json:"time"`
					scaler.Event
				}{e.Time, e})
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&seeds, "join", "", "client addresses of nodes to read the membership from, host:port,…")
	f.StringVar(&policy, "policy", "min=3,max=7,target-ops=1500", "scaling policy: min, max, target-ops (requests/s per node), up, down, p99, in-flight, sustain, cooldown, interval")
	f.IntVar(&n, "n", 3, "the cluster's replication factor N: never fewer nodes")
	f.StringVar(&addCmd, "exec-add", "", "shell command that starts one more node; the last word it prints, if any, is taken as the node's id")
	f.StringVar(&rmCmd, "exec-remove", "", "shell command that stops node $KVNODE_NODE once it has left the ring")
	f.StringVar(&clientPort, "client-port", "7001", "client port of the members (the decommission is sent there)")
	f.StringVar(&metricsPort, "metrics-port", "9464", "port of the members' --metrics-listen")
	f.DurationVar(&cf.timeout, "timeout", 5*time.Second, "deadline of each status call")
	f.StringVar(&cf.token, "admin-token", "", "admin token (default $KVNODE_ADMIN_TOKEN)")
	f.StringVar(&cf.tls.Cert, "tls-cert", "", "PEM client certificate, for nodes with TLS on (with --tls-key and --tls-ca)")
	f.StringVar(&cf.tls.Key, "tls-key", "", "PEM key of --tls-cert")
	f.StringVar(&cf.tls.CA, "tls-ca", "", "PEM CA certificate the nodes' certificates must chain to")
	return cmd
}
