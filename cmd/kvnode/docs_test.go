package main

import (
	"io"
	"os"
	"testing"

	"github.com/quorumlab/quorumlab/internal/flagdoc"
)

// TestFlagsDocumented: every flag of every kvnode command is in
// docs/kvnode.md.
func TestFlagsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/kvnode.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range flagdoc.Missing(doc, serveCmd(io.Discard), putCmd(), getCmd(io.Discard), deleteCmd(), statusCmd(io.Discard), joinCmd(), decommissionCmd()) {
		t.Errorf("kvnode %s is not in docs/kvnode.md", m)
	}
}
