// Package flagdoc finds command flags a reference document leaves out.
package flagdoc

import (
	"regexp"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Missing lists, as "command --flag", the flags of cmds that doc never
// names as --flag.
func Missing(doc []byte, cmds ...*cobra.Command) []string {
	var out []string
	for _, cmd := range cmds {
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" {
				return
			}
			if !regexp.MustCompile(`--` + regexp.QuoteMeta(f.Name) + `([^a-z0-9-]|$)`).Match(doc) {
				out = append(out, cmd.Name()+" --"+f.Name)
			}
		})
	}
	return out
}
