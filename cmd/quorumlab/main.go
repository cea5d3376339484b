// Command quorumlab runs Jepsen-style tests and benchmarks against a kvnode
// cluster and checks what happened.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/quorumlab/quorumlab/checker"
)

// exitError ends the program with a code after printing nothing more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	// One signal is an orderly stop: stop the workload, heal, check what
	// was recorded (bounded), tear down, report. A second stops at once,
	// still tearing down; a third leaves without waiting.
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, stop := context.WithCancel(context.Background())
	abort := make(chan struct{})
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "quorumlab: interrupted: stopping the workload, healing, checking what was recorded and tearing down; interrupt again to stop at once")
		stop()
		<-sigs
		fmt.Fprintln(os.Stderr, "quorumlab: interrupted again: stopping at once, still tearing down")
		close(abort)
		<-sigs
		os.Exit(checker.ExitHarness)
	}()
	code := run(ctx, abort, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, abort <-chan struct{}, args []string, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	root := &cobra.Command{
		Use:           "quorumlab",
		Short:         "Jepsen-style tests and benchmarks of a Dynamo-style key-value store",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(runCmd(stdout, log, abort), checkCmd(stdout), compareCmd(stdout, log, abort), serveCmd(stdout))
	root.AddCommand(cleanupCmd(stdout), pbsCmd(stdout))
	err := root.ExecuteContext(ctx)
	var ee exitError
	switch {
	case err == nil:
		return checker.ExitValid
	case errors.As(err, &ee):
		return ee.code
	}
	fmt.Fprintln(stderr, "quorumlab:", err)
	return checker.ExitHarness
}
