package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/quorumlab/quorumlab/cluster/docker"
)

func cleanupCmd(stdout io.Writer) *cobra.Command {
	var opts docker.CleanupOptions
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove the Docker containers and networks that killed runs left behind",
		Long: `Remove the Docker containers and networks that docker-backend runs left
behind: a harness that is killed (SIGKILL, a crash) cannot tear down. Things
of runs whose harness still runs are left alone unless --live is given; the
node images are kept for the next run unless --images is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := docker.Cleanup(cmd.Context(), opts)
			for _, r := range rep.Removed {
				fmt.Fprintf(stdout, "removed %s %s%s\n", r.Kind, r.Name, ofRun(r.Run))
			}
			if len(rep.Removed) == 0 && err == nil {
				fmt.Fprintln(stdout, "nothing to remove")
			}
			for _, k := range rep.Kept {
				why := "its run's harness is still running; --live removes it"
				if k.Kind == "image" {
					why = "kept for the next run; --images removes it"
				}
				fmt.Fprintf(stdout, "left %s %s%s: %s\n", k.Kind, k.Name, ofRun(k.Run), why)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&opts.Live, "live", false, "also remove the containers and networks of runs that are still going")
	cmd.Flags().BoolVar(&opts.Images, "images", false, "also remove the kept kvnode images")
	return cmd
}

func ofRun(dir string) string {
	if dir == "" {
		return ""
	}
	return " (run " + dir + ")"
}
