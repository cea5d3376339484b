// Command netfault fakes network faults in the network namespace it runs in,
// with nftables rules in a table of its own. The docker backend ships it,
// static, into every node image and execs it there: a FROM-scratch image has
// no nft binary, and the node under test carries no harness code.
package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/spf13/cobra"

	"github.com/quorumlab/quorumlab/cluster/netfault"
)

// Exit codes.
const (
	exitOK      = 0
	exitOther   = 1
	exitInvalid = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	root := rootCmd()
	root.SetArgs(args)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr("%v", err) })
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "netfault:", err)
	var ce codeError
	if errors.As(err, &ce) {
		return ce.code
	}
	return exitOther
}

// codeError carries an exit code for errors found before any change.
type codeError struct {
	code int
	err  error
}

func (e codeError) Error() string { return e.err.Error() }
func (e codeError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return codeError{exitInvalid, fmt.Errorf(format, args...)}
}

func rootCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "netfault",
		Short: "Drop packets in this network namespace (nftables table inet " + netfault.TableName + "; needs CAP_NET_ADMIN)",
		Long: `Drop packets arriving in this network namespace, to fake partitions and
packet loss. Rules live in the nftables table inet ` + netfault.TableName + ` and nowhere
else; the test harness runs this inside each node's container.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
	}

	var from, lossFrom []string
	var loss float64
	drop := &cobra.Command{
		Use:   "drop",
		Short: "Replace the rules: drop every packet from --from, and a share --loss of those from --loss-from",
		Example: `  netfault drop --from 172.18.0.12,172.18.0.13
  netfault drop --loss-from 172.18.0.12 --loss 0.3`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			r, err := dropRules(from, lossFrom, loss)
			if err != nil {
				return usageErr("%v", err)
			}
			return netfault.Apply(r)
		},
	}
	f := drop.Flags()
	f.StringSliceVar(&from, "from", nil, "drop every packet from these IPv4 addresses")
	f.StringSliceVar(&lossFrom, "loss-from", nil, "drop a share --loss of the packets from these IPv4 addresses")
	f.Float64Var(&loss, "loss", 0, "share of the --loss-from packets to drop, 0..1")

	heal := &cobra.Command{
		Use:   "heal",
		Short: "Remove every rule (delete the table)",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return netfault.Remove() },
	}
	cmd.AddCommand(drop, heal)
	return cmd
}

// dropRules turns drop's flags into rules that match the source only: all a
// namespace receives is addressed to it.
func dropRules(from, lossFrom []string, loss float64) (netfault.Rules, error) {
	if len(lossFrom) > 0 && loss == 0 {
		return netfault.Rules{}, errors.New("--loss-from without --loss")
	}
	var r netfault.Rules
	var err error
	if r.Partition, err = sources(from); err != nil {
		return netfault.Rules{}, fmt.Errorf("--from: %w", err)
	}
	if r.Loss, err = sources(lossFrom); err != nil {
		return netfault.Rules{}, fmt.Errorf("--loss-from: %w", err)
	}
	r.LossRate = loss
	return r, r.Validate()
}

func sources(addrs []string) ([]netfault.Pair, error) {
	pairs := make([]netfault.Pair, 0, len(addrs))
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, netfault.Pair{Src: ip})
	}
	return pairs, nil
}
