package main

import (
	"io"
	"log/slog"
	"os"
	"regexp"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestFlagsDocumented: every flag of every command is in docs/harness.md.
func TestFlagsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/harness.md")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	for _, cmd := range []*cobra.Command{runCmd(io.Discard, log, nil), checkCmd(io.Discard), compareCmd(io.Discard, log, nil),
		serveCmd(io.Discard), cleanupCmd(io.Discard), pbsCmd(io.Discard)} {
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if !regexp.MustCompile(`--` + regexp.QuoteMeta(f.Name) + `([^a-z0-9-]|$)`).Match(doc) {
				t.Errorf("quorumlab %s --%s is not in docs/harness.md", cmd.Name(), f.Name)
			}
		})
	}
}
