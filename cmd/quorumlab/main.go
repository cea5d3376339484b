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
)

// Exit codes.
const (
	exitValid   = 0
	exitInvalid = 1
	exitUnknown = 2
	exitHarness = 3
)

// exitError ends the program with a code after printing nothing more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal starts an orderly stop (heal, tear down, check);
		// a second one gets the default behaviour and ends the process.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
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
	root.AddCommand(runCmd(stdout, log), checkCmd(stdout), compareCmd(stdout, log), serveCmd(stdout))
	root.AddCommand(cleanupCmd(stdout), pbsCmd(stdout))
	err := root.ExecuteContext(ctx)
	var ee exitError
	switch {
	case err == nil:
		return exitValid
	case errors.As(err, &ee):
		return ee.code
	}
	fmt.Fprintln(stderr, "quorumlab:", err)
	return exitHarness
}
