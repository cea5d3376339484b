package flagdoc

import (
	"slices"
	"testing"

	"github.com/spf13/cobra"
)

func TestMissing(t *testing.T) {
	cmd := &cobra.Command{Use: "run"}
	cmd.Flags().Bool("keep", false, "")
	cmd.Flags().Bool("keep-going", false, "")
	cmd.Flags().Int("n", 0, "")
	got := Missing([]byte("| `--keep-going` | … | and --n."), cmd)
	if want := []string{"run --keep"}; !slices.Equal(got, want) {
		t.Errorf("Missing = %v, want %v", got, want)
	}
}
