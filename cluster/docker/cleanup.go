package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// CleanupOptions says what Cleanup may remove besides what dead runs left.
type CleanupOptions struct {
	Live   bool // also the containers and networks of runs whose harness still runs
	Images bool // also the kept node images
}

// Leftover is one thing Cleanup found.
type Leftover struct {
	Kind string // container, network or image
	Name string
	Run  string // the run directory it belongs to; "" for images
}

// CleanupReport is what Cleanup removed and what it left.
type CleanupReport struct {
	Removed []Leftover
	Kept    []Leftover // live runs' things and node images not asked for
}

// Cleanup removes the containers (paused ones unpaused first) and networks
// labelled by runs whose harness is gone, as a harness killed before it could
// tear down leaves them, and optionally more (see CleanupOptions). It goes on
// past failures and returns them joined.
func Cleanup(ctx context.Context, opts CleanupOptions) (CleanupReport, error) {
	var rep CleanupReport
	p, err := connect(ctx, nil)
	if err != nil {
		return rep, err
	}
	defer p.Close()
	cli := p.Client()
	var errs []error
	keep := func(labels map[string]string) bool { return !opts.Live && liveHarness(labels) }

	ctrs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", labelRun)})
	if err != nil {
		return rep, fmt.Errorf("list containers: %w", err)
	}
	for _, ct := range ctrs.Items {
		lo := Leftover{Kind: "container", Name: strings.TrimPrefix(firstOr(ct.Names, ct.ID), "/"), Run: ct.Labels[labelDir]}
		if keep(ct.Labels) {
			rep.Kept = append(rep.Kept, lo)
			continue
		}
		if ct.State == container.StatePaused {
			if _, err := cli.ContainerUnpause(ctx, ct.ID, client.ContainerUnpauseOptions{}); err != nil {
				errs = append(errs, fmt.Errorf("unpause container %s: %w", lo.Name, err))
			}
		}
		if _, err := cli.ContainerRemove(ctx, ct.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, fmt.Errorf("remove container %s: %w", lo.Name, err))
			continue
		}
		rep.Removed = append(rep.Removed, lo)
	}

	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("label", labelRun)})
	if err != nil {
		return rep, errors.Join(append(errs, fmt.Errorf("list networks: %w", err))...)
	}
	for _, nw := range nets.Items {
		lo := Leftover{Kind: "network", Name: nw.Name, Run: nw.Labels[labelDir]}
		if keep(nw.Labels) {
			rep.Kept = append(rep.Kept, lo)
			continue
		}
		if _, err := cli.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("remove network %s: %w", lo.Name, err))
			continue
		}
		rep.Removed = append(rep.Removed, lo)
	}

	imgs, err := cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("label", labelImage)})
	if err != nil {
		return rep, errors.Join(append(errs, fmt.Errorf("list images: %w", err))...)
	}
	for _, img := range imgs.Items {
		lo := Leftover{Kind: "image", Name: firstOr(img.RepoTags, img.ID)}
		if !opts.Images {
			rep.Kept = append(rep.Kept, lo)
			continue
		}
		// Not forced: an image a live run uses stays.
		if _, err := cli.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{PruneChildren: true}); err != nil {
			errs = append(errs, fmt.Errorf("remove image %s: %w", lo.Name, err))
			continue
		}
		rep.Removed = append(rep.Removed, lo)
	}
	return rep, errors.Join(errs...)
}

// liveHarness reports whether the harness that labelled a run still runs:
// the containers need this host's engine, so its pid is on this host.
func liveHarness(labels map[string]string) bool {
	pid, err := strconv.Atoi(labels[labelPID])
	if err != nil || pid <= 0 || labels[labelHost] != hostname() {
		return false
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

func pidString() string { return strconv.Itoa(os.Getpid()) }

func firstOr(s []string, fallback string) string {
	if len(s) > 0 {
		return s[0]
	}
	return fallback
}
