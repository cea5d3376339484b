package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/docker"
	"github.com/quorumlab/quorumlab/results"
)

func cleanupCmd(stdout io.Writer) *cobra.Command {
	var opts docker.CleanupOptions
	var store, olderThan string
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove what killed runs left behind: node data dirs and Docker containers and networks",
		Long: `Remove the node data dirs in the store and the Docker containers and
networks that runs left behind: a harness that is killed (SIGKILL, a crash)
cannot tear down. --older-than also prunes old runs. Things
of runs whose harness still runs are left alone unless --live is given; the
node images are kept for the next run unless --images is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			age, err := parseAge(olderThan)
			if err != nil {
				return err
			}
			pruned, perr := results.Prune(store, age, time.Now(), harnessRunning, cluster.DataDir)
			for _, r := range pruned.Runs {
				fmt.Fprintf(stdout, "removed run %s\n", r)
			}
			for _, d := range pruned.DataDirs {
				fmt.Fprintf(stdout, "removed data dirs %s\n", d)
			}
			rep, err := docker.Cleanup(cmd.Context(), opts)
			err = errors.Join(perr, err)
			for _, r := range rep.Removed {
				fmt.Fprintf(stdout, "removed %s %s%s\n", r.Kind, r.Name, ofRun(r.Run))
			}
			if len(rep.Removed)+len(pruned.Runs)+len(pruned.DataDirs) == 0 && err == nil {
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
	cmd.Flags().StringVar(&store, "store", "store", "root directory of stored runs: node data dirs left by runs that ended abruptly are removed (an invalid run's are kept)")
	cmd.Flags().StringVar(&olderThan, "older-than", "", "also remove stored runs older than this, e.g. 7d or 36h")
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

// parseAge parses a duration that may be given in days, as 7d.
func parseAge(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("--older-than %q: want a positive number of days or a duration", s)
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	a, err := time.ParseDuration(s)
	if err != nil || a <= 0 {
		return 0, fmt.Errorf("--older-than %q: want a positive duration such as 7d or 36h", s)
	}
	return a, nil
}

// harnessRunning reports whether a process still works in a run dir: a
// harness writes into it and its nodes are started with paths inside it.
func harnessRunning(dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return true // cannot tell: leave it
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), abs) {
			return true
		}
	}
	return false
}
