package main

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/quorumlab/quorumlab/internal/flagdoc"
)

// TestFlagsDocumented: every flag of every command is in docs/harness.md.
func TestFlagsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/harness.md")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	for _, m := range flagdoc.Missing(doc, runCmd(io.Discard, log, nil), checkCmd(io.Discard), compareCmd(io.Discard, log, nil),
		serveCmd(io.Discard), cleanupCmd(io.Discard), pbsCmd(io.Discard)) {
		t.Errorf("quorumlab %s is not in docs/harness.md", m)
	}
}
