// Command kvnode runs a Dynamo-style replicated key-value node and talks to
// one as a client.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/quorumlab/quorumlab/kvnode"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/secure"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

// Exit codes of the client subcommands.
const (
	exitOK            = 0
	exitOther         = 1
	exitInvalid       = 2
	exitUnavailable   = 3
	exitIndeterminate = 4
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "kvnode",
		Short:         "A Dynamo-style replicated key-value node and its client",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr("%v", err) })
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(serveCmd(stderr), putCmd(), getCmd(stdout), deleteCmd(), statusCmd(stdout))
	root.AddCommand(joinCmd(), decommissionCmd(), autoscaleCmd(stdout))
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "kvnode:", err)
	var ce codeError
	if errors.As(err, &ce) {
		return ce.code
	}
	switch client.KindOf(err) {
	case client.Invalid:
		return exitInvalid
	case client.Unavailable:
		return exitUnavailable
	case client.Indeterminate:
		return exitIndeterminate
	}
	return exitOther
}

// codeError carries an exit code for errors found before any call is made.
type codeError struct {
	code int
	err  error
}

func (e codeError) Error() string { return e.err.Error() }
func (e codeError) Unwrap() error { return e.err }

// nArgs is cobra.ExactArgs with the invalid-argument exit code.
func nArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageErr("%v", err)
		}
		return nil
	}
}

func usageErr(format string, args ...any) error {
	return codeError{exitInvalid, fmt.Errorf(format, args...)}
}

func serveCmd(stderr io.Writer) *cobra.Command {
	cfg := kvnode.DefaultConfig()
	var peers, mode, logLevel, tokenFile, keyFile string
	var g gossipFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.ID == "" || cfg.DataDir == "" {
				return usageErr("--id and --data-dir are required")
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageErr("--log-level %q: want debug, info, warn or error", logLevel)
			}
			cfg.Logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})).With("node", cfg.ID)
			m, err := version.ParseMode(mode)
			if err != nil {
				return usageErr("--mode: %v", err)
			}
			cfg.Mode = m
			if cfg.Gossip, err = g.config(cmd, cfg.Listen); err != nil {
				return usageErr("%v", err)
			}
			if keyFile != "" {
				if cfg.ClusterKey, err = secure.ReadKey(keyFile); err != nil {
					return usageErr("--gossip-key-file: %v", err)
				}
			}
			if peers == "" && cfg.Gossip == nil {
				peers = cfg.ID + "=" + cfg.AdvertisedPeerAddr()
			}
			if peers != "" {
				if cfg.Peers, err = kvnode.ParsePeers(peers); err != nil {
					return usageErr("--peers: %v", err)
				}
			}
			if cfg.AdminToken, err = adminToken(cfg.AdminToken, tokenFile); err != nil {
				return usageErr("%v", err)
			}
			if err := cfg.Validate(); err != nil {
				return usageErr("%v", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			n, err := kvnode.New(cfg)
			if err != nil {
				return err
			}
			if err := n.Serve(); err != nil {
				n.Close()
				return err
			}
			<-ctx.Done()
			cfg.Logger.Info("shutting down")
			return n.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ID, "id", "", "node id (required), e.g. n1")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:7001", "gRPC listen address; outgoing peer connections use its IP as source")
	f.StringVar(&cfg.DataDir, "data-dir", "", "data directory (required)")
	f.StringVar(&cfg.PeerListen, "peer-listen", "", "listen address of the node-to-node services (default: the --listen host, port + 2000)")
	f.StringVar(&cfg.PeerAdvertise, "peer-advertise", "", "peer address other nodes dial (default --peer-listen, which must then be a specific IP)")
	f.StringVar(&peers, "peers", "", "static membership: every node of the cluster, this one included, at its peer address: id=host:port[/zone[/weight]],…; "+
		"with --join, the founding ring members")
	f.StringVar(&cfg.TLS.Cert, "tls-cert", "", "PEM certificate: turns on mutual TLS on the client and peer ports (with --tls-key and --tls-ca)")
	f.StringVar(&cfg.TLS.Key, "tls-key", "", "PEM key of --tls-cert")
	f.StringVar(&cfg.TLS.CA, "tls-ca", "", "PEM CA certificate: only clients and peers with a certificate it signed are served")
	f.StringVar(&keyFile, "gossip-key-file", "", "cluster key (base64 of 16, 24 or 32 bytes): encrypts gossip, so nodes without it never join, and without TLS authenticates peer calls")
	g.register(f)
	f.StringVar(&cfg.Zone, "zone", "", "this node's zone (gossip membership; default its --peers entry's)")
	f.IntVar(&cfg.Weight, "weight", 0, "this node's weight: it owns weight × vnodes tokens (gossip membership; default its --peers entry's, else 1)")
	f.BoolVar(&cfg.RingJoin, "ring-join", cfg.RingJoin, "with --join: enter the ring at start unless already in it or decommissioned (else use the join command)")
	f.BoolVar(&cfg.Sloppy, "sloppy", false, "sloppy quorums: stand-ins replace unreachable home replicas and keep hints for them (cluster setting)")
	f.DurationVar(&cfg.HandoffInterval, "handoff-interval", cfg.HandoffInterval, "how often hints are delivered and data this node no longer owns is handed over")
	f.DurationVar(&cfg.AntiEntropyInterval, "anti-entropy-interval", cfg.AntiEntropyInterval, "how often replicas compare Merkle trees and sync differing ranges (0: off)")
	f.IntVar(&cfg.MerkleDepth, "merkle-depth", cfg.MerkleDepth, "anti-entropy tree depth (2^depth leaves)")
	f.DurationVar(&cfg.TombstoneGrace, "tombstone-grace", cfg.TombstoneGrace, "how long deleted keys keep their tombstones before they are removed (0: forever; linearizable mode keeps them)")
	f.BoolVar(&cfg.RecoverFromPeers, "recover-from-peers", false, "if the store is damaged, move it aside (<data-dir>.damaged-<unix time>) and rebuild this node's ranges from their replicas before serving them (static --peers only)")
	f.IntVar(&cfg.N, "n", cfg.N, "replicas per key (N)")
	f.IntVar(&cfg.W, "w", cfg.W, "write quorum (W)")
	f.IntVar(&cfg.R, "r", cfg.R, "read quorum (R)")
	f.StringVar(&mode, "mode", string(cfg.Mode), "consistency mode: lww, vclock or linearizable")
	f.IntVar(&cfg.VNodes, "vnodes", cfg.VNodes, "virtual nodes per unit of weight")
	f.StringVar(&cfg.ReadRepair, "read-repair", cfg.ReadRepair, "read repair for lww and vclock: async, sync or off")
	f.BoolVar(&cfg.Fsync, "fsync", cfg.Fsync, "fsync the write-ahead log before acknowledging a write")
	f.IntVar(&cfg.MaxValueBytes, "max-value-bytes", cfg.MaxValueBytes, "largest value accepted")
	f.IntVar(&cfg.MaxInFlight, "max-inflight", cfg.MaxInFlight, "client requests this node coordinates at once; more are refused at once as not applied (default: 256 per core)")
	f.IntVar(&cfg.MaxSiblings, "max-siblings", cfg.MaxSiblings, "vclock: most siblings one key may hold; a write that would add more is refused (not applied)")
	f.IntVar(&cfg.MaxKeySetBytes, "max-key-set-bytes", cfg.MaxKeySetBytes, "vclock: most bytes of versions one key may hold; a write that would grow past it is refused (not applied)")
	f.DurationVar(&cfg.RequestTimeout, "request-timeout", cfg.RequestTimeout, "coordinator deadline for replica replies")
	f.StringVar(&cfg.AdminToken, "admin-token", "", "enable the admin service (status, ring, clock offset) with this bearer token; visible in ps, so prefer --admin-token-file or $KVNODE_ADMIN_TOKEN")
	f.StringVar(&tokenFile, "admin-token-file", "", "read the admin token from this file (one line)")
	f.StringVar(&cfg.MetricsListen, "metrics-listen", "", "serve Prometheus metrics on this address (/metrics)")
	f.BoolVar(&cfg.Pprof, "pprof", false, "also serve Go's profiler on --metrics-listen (/debug/pprof/), e.g. go tool pprof http://ADDR/debug/pprof/profile?seconds=10")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

type clientFlags struct {
	addr       string
	timeout    time.Duration
	token      string
	tls        secure.Files
	serverName string
}

func (c *clientFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.addr, "addr", "127.0.0.1:7001", "node to send the request to")
	cmd.Flags().DurationVar(&c.timeout, "timeout", 5*time.Second, "request deadline")
	cmd.Flags().StringVar(&c.tls.Cert, "tls-cert", "", "PEM client certificate, for a node with TLS on (with --tls-key and --tls-ca)")
	cmd.Flags().StringVar(&c.tls.Key, "tls-key", "", "PEM key of --tls-cert")
	cmd.Flags().StringVar(&c.tls.CA, "tls-ca", "", "PEM CA certificate the node's certificate must chain to")
	cmd.Flags().StringVar(&c.serverName, "tls-server-name", "", "name the node's certificate must hold (default the --addr host)")
}

func (c *clientFlags) dial() (*client.Client, error) {
	opts, err := c.options()
	if err != nil {
		return nil, err
	}
	return client.Dial(c.addr, opts)
}

// options are the client settings the flags give.
func (c *clientFlags) options() (client.Options, error) {
	if c.timeout <= 0 {
		return client.Options{}, usageErr("--timeout %v: must be positive", c.timeout)
	}
	token := c.token
	if token == "" {
		token = os.Getenv("KVNODE_ADMIN_TOKEN")
	}
	opts := client.Options{Timeout: c.timeout, AdminToken: token}
	if c.tls.Enabled() {
		m, err := secure.Load(c.tls)
		if err != nil {
			return client.Options{}, usageErr("%v", err)
		}
		opts.TLS = m.Client()
		opts.TLS.ServerName = c.serverName
	} else if c.serverName != "" {
		return client.Options{}, usageErr("--tls-server-name needs --tls-cert, --tls-key and --tls-ca")
	}
	return opts, nil
}

func decodeCtx(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, usageErr("--context is not base64: %v", err)
	}
	return b, nil
}

func putCmd() *cobra.Command {
	var cf clientFlags
	var w int
	var ctxStr string
	cmd := &cobra.Command{
		Use:   "put KEY VALUE",
		Short: "Write a value (in vclock mode, pass the context of a get to supersede what it read)",
		Args:  nArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctxb, err := decodeCtx(ctxStr)
			if err != nil {
				return err
			}
			c, err := cf.dial()
			if err != nil {
				return err
			}
			defer c.Close()
			err = c.Put(cmd.Context(), args[0], []byte(args[1]), ctxb, client.WithW(w))
			return err
		},
	}
	cf.register(cmd)
	cmd.Flags().IntVar(&w, "w", 0, "override W for this write (0: the cluster's)")
	cmd.Flags().StringVar(&ctxStr, "context", "", "context from a previous get (base64)")
	return cmd
}

func getCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	var r int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Read a key: one sibling value per line, or --json",
		Args:  nArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.dial()
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := c.Get(cmd.Context(), args[0], client.WithR(r))
			if err != nil {
				return err
			}
			if asJSON {
				vals := make([]string, len(res.Values))
				for i, v := range res.Values {
					vals[i] = string(v)
				}
				return json.NewEncoder(stdout).Encode(struct {
					Values  []string `json:"values"`
					Context string   `json:"context"`
				}{vals, base64.StdEncoding.EncodeToString(res.Context)})
			}
			for _, v := range res.Values {
				fmt.Fprintln(stdout, string(v))
			}
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().IntVar(&r, "r", 0, "override R for this read (0: the cluster's)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"values":[…],"context":"…"}`)
	return cmd
}

func deleteCmd() *cobra.Command {
	var cf clientFlags
	var w int
	var ctxStr string
	cmd := &cobra.Command{
		Use:   "delete KEY",
		Short: "Delete a key (writes a tombstone)",
		Args:  nArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctxb, err := decodeCtx(ctxStr)
			if err != nil {
				return err
			}
			c, err := cf.dial()
			if err != nil {
				return err
			}
			defer c.Close()
			return c.Delete(cmd.Context(), args[0], ctxb, client.WithW(w))
		},
	}
	cf.register(cmd)
	cmd.Flags().IntVar(&w, "w", 0, "override W for this delete (0: the cluster's)")
	cmd.Flags().StringVar(&ctxStr, "context", "", "context from a previous get (base64)")
	return cmd
}

func statusCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a node's view of the cluster (needs the admin token)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.dial()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), cf.timeout)
			defer cancel()
			st, err := c.Status(ctx)
			if err != nil {
				return err
			}
			membership := "static"
			if st.GetGossip() {
				membership = "gossip"
			}
			fmt.Fprintf(stdout, "node %s  mode %s  N=%d W=%d R=%d  sloppy %v  membership %s  keys %d  hints %d  clock offset %v\n\n",
				st.GetId(), st.GetMode(), st.GetN(), st.GetW(), st.GetR(), st.GetSloppy(), membership, st.GetKeys(), st.GetHints(),
				time.Duration(st.GetClockOffsetNs()))
			if st.GetDamage() != "" {
				fmt.Fprintf(stdout, "STORE DAMAGED: %s\nthe node serves no replica requests; restart it with --recover-from-peers\n\n", st.GetDamage())
			}
			if st.GetRecovering() {
				fmt.Fprintf(stdout, "recovering: rebuilding this node's ranges from their replicas (no replica reads yet)\n\n")
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tADDRESS\tGOSSIP\tZONE\tWEIGHT\tSTATE\tRING\tRING SHARE")
			for _, m := range st.GetMembers() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%.1f%%\n", m.GetId(), m.GetAddr(), m.GetGossipAddr(), m.GetZone(), m.GetWeight(),
					m.GetState(), m.GetRingStatus(), 100*m.GetShare())
			}
			return tw.Flush()
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&cf.token, "admin-token", "", "admin token (default $KVNODE_ADMIN_TOKEN)")
	return cmd
}

// adminToken is the serve command's admin token: the flag's, else the
// file's, else $KVNODE_ADMIN_TOKEN; empty leaves the admin service off.
func adminToken(flag, file string) (string, error) {
	if flag != "" && file != "" {
		return "", fmt.Errorf("--admin-token and --admin-token-file: give one")
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--admin-token-file: %w", err)
		}
		t := strings.TrimSpace(string(b))
		if t == "" || strings.ContainsAny(t, "\n\r") {
			return "", fmt.Errorf("--admin-token-file %s: want one non-empty line", file)
		}
		return t, nil
	}
	if flag != "" {
		return flag, nil
	}
	return os.Getenv("KVNODE_ADMIN_TOKEN"), nil
}
