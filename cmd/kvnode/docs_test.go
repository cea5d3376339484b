package main

import (
	"io"
	"os"
	"regexp"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestFlagsDocumented: every flag of every kvnode command is in
// docs/kvnode.md.
func TestFlagsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/kvnode.md")
	if err != nil {
		t.Fatal(err)
	}
	// netfault is the harness's helper in containers, not a user command.
	for _, cmd := range []*cobra.Command{serveCmd(io.Discard), putCmd(), getCmd(io.Discard), deleteCmd(), statusCmd(io.Discard), joinCmd(), decommissionCmd()} {
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" {
				return
			}
			if !regexp.MustCompile(`--` + regexp.QuoteMeta(f.Name) + `([^a-z0-9-]|$)`).Match(doc) {
				t.Errorf("kvnode %s --%s is not in docs/kvnode.md", cmd.Name(), f.Name)
			}
		})
	}
}
