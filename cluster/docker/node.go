package docker

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/launch"
)

const (
	// healthTimeout bounds the wait for a node to serve, whatever ctx says.
	healthTimeout = 60 * time.Second
	// logDrainTimeout bounds the wait for a stopped container's last output.
	logDrainTimeout = 5 * time.Second
)

// node is one kvnode container. Docker's view of its state is the truth;
// the mutex orders what the harness does to it.
type node struct {
	info cluster.Node
	ip   netip.Addr
	args []string
	// secrets are its TLS files by path in the container; nil: plaintext.
	secrets map[string][]byte
	ctr     *testcontainers.DockerContainer

	mu      sync.Mutex    // orders lifecycle changes and rule updates; guards below
	logDone chan struct{} // closed once the current run's output is in the log
	rules   []string      // netfault args in effect in its namespace; nil: unknown
}

// Info is what the harness knows of n.
func (n *node) Info() cluster.Node { return n.info }

func (c *Cluster) createContainer(ctx context.Context, n *node, image string, labels map[string]string) error {
	nodeLabels := map[string]string{labelNode: n.info.ID}
	maps.Copy(nodeLabels, labels)
	netName := c.network.Name
	req := testcontainers.ContainerRequest{
		Image:  image,
		Name:   "quorumlab-" + c.runID + "-" + n.info.ID,
		Cmd:    n.args,
		Env:    c.cfg.NodeEnv(),
		Labels: nodeLabels,
		// On the run's network only, at a fixed address: no published ports.
		Networks: []string{netName},
		EndpointSettingsModifier: func(eps map[string]*network.EndpointSettings) {
			if eps[netName] == nil {
				eps[netName] = &network.EndpointSettings{}
			}
			eps[netName].IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: n.ip}
		},
		// NET_ADMIN lets netfault change the container's nftables.
		HostConfigModifier: func(hc *container.HostConfig) { hc.CapAdd = append(hc.CapAdd, "NET_ADMIN") },
		Files:              secretFiles(n.secrets),
		LifecycleHooks: []testcontainers.ContainerLifecycleHooks{{
			PreStarts: []testcontainers.ContainerHook{
				func(ctx context.Context, _ testcontainers.Container) error { return c.followLog(ctx, n) },
			},
			PostStarts: []testcontainers.ContainerHook{
				// Its new network namespace has no rules yet.
				func(ctx context.Context, _ testcontainers.Container) error {
					n.rules = healArgs()
					return c.applyRules(ctx, n)
				},
			},
		}},
	}
	ctr, err := c.provider.CreateContainer(ctx, req)
	if ctr != nil {
		n.ctr = ctr.(*testcontainers.DockerContainer)
	}
	if err != nil {
		err = fmt.Errorf("%s: create container: %w", n.info.ID, err)
		if n.ctr != nil {
			// Close only knows nodes that were created in full.
			if _, rerr := c.cli.ContainerRemove(context.WithoutCancel(ctx), n.ctr.ID, client.ContainerRemoveOptions{Force: true}); rerr != nil {
				err = errors.Join(err, fmt.Errorf("remove its container %s: %w", shortID(n.ctr.ID), rerr))
			}
		}
		return err
	}
	return nil
}

// startContainer starts n's container if it is not running; the caller
// waits for it to become healthy.
func (c *Cluster) startContainer(ctx context.Context, n *node) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c.nodes.Closing() {
		return fmt.Errorf("%s: %w", n.info.ID, launch.ErrClosed)
	}
	st, err := n.ctr.State(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", n.info.ID, err)
	}
	if st.Paused {
		return fmt.Errorf("%s is paused; resume it instead", n.info.ID)
	}
	if st.Running {
		return nil
	}
	if err := n.ctr.Start(ctx); err != nil {
		return fmt.Errorf("%s: %w", n.info.ID, err)
	}
	c.log.Info("node started", "node", n.info.ID, "addr", n.info.Addr)
	return nil
}

// Start restarts a killed or stopped node (the same container, so the same
// data) and waits until it is healthy. A running node is only waited for.
func (c *Cluster) Start(ctx context.Context, id string) error {
	n, err := c.nodes.Get(id)
	if err != nil {
		return err
	}
	if err := c.startContainer(ctx, n); err != nil {
		return fmt.Errorf("start %w", err)
	}
	return c.waitHealthy(ctx, n)
}

// Kill sends SIGKILL and waits until the container has stopped.
func (c *Cluster) Kill(ctx context.Context, id string) error {
	n, err := c.nodes.Get(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := c.kill(ctx, n); err != nil {
		return fmt.Errorf("kill %s: %w", id, err)
	}
	c.log.Info("node killed", "node", id)
	return nil
}

// kill also ends a paused container.
func (c *Cluster) kill(ctx context.Context, n *node) error {
	st, err := n.ctr.State(ctx)
	if err != nil || !st.Running {
		return err
	}
	if _, err := c.cli.ContainerKill(ctx, n.ctr.ID, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		return err
	}
	return c.waitStopped(ctx, n)
}

// Stop sends SIGTERM and waits up to the stop grace (10 s) for the node to
// exit before Docker kills it.
func (c *Cluster) Stop(ctx context.Context, id string) error {
	n, err := c.nodes.Get(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := c.stop(ctx, n, c.stopGrace); err != nil {
		return fmt.Errorf("stop %s: %w", id, err)
	}
	c.log.Info("node stopped", "node", id)
	return nil
}

func (c *Cluster) stop(ctx context.Context, n *node, grace time.Duration) error {
	st, err := n.ctr.State(ctx)
	if err != nil || !st.Running {
		return err
	}
	if st.Paused {
		// A frozen process acts on SIGTERM only once it is thawed.
		if _, err := c.cli.ContainerUnpause(ctx, n.ctr.ID, client.ContainerUnpauseOptions{}); err != nil {
			return err
		}
	}
	if err := n.ctr.Stop(ctx, &grace); err != nil {
		return err
	}
	return c.waitStopped(ctx, n)
}

// waitStopped waits for the container to stop and its output to be logged.
func (c *Cluster) waitStopped(ctx context.Context, n *node) error {
	res := c.cli.ContainerWait(ctx, n.ctr.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-res.Result:
	case err := <-res.Error:
		return err
	}
	if n.logDone != nil {
		select {
		case <-n.logDone:
		case <-time.After(logDrainTimeout):
		}
	}
	return nil
}

// Pause freezes a node with docker pause.
func (c *Cluster) Pause(ctx context.Context, id string) error {
	n, err := c.nodes.Get(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	st, err := n.ctr.State(ctx)
	if err != nil {
		return fmt.Errorf("pause %s: %w", id, err)
	}
	if !st.Running {
		return fmt.Errorf("pause %s: not running", id)
	}
	if st.Paused {
		return nil
	}
	if _, err := c.cli.ContainerPause(ctx, n.ctr.ID, client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause %s: %w", id, err)
	}
	c.log.Info("node paused", "node", id)
	return nil
}

// Resume thaws a paused node and gives it the rules that changed meanwhile.
// It does nothing to a node that is not paused.
func (c *Cluster) Resume(ctx context.Context, id string) error {
	n, err := c.nodes.Get(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	st, err := n.ctr.State(ctx)
	if err != nil {
		return fmt.Errorf("resume %s: %w", id, err)
	}
	if !st.Paused {
		return nil
	}
	if _, err := c.cli.ContainerUnpause(ctx, n.ctr.ID, client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("resume %s: %w", id, err)
	}
	if err := c.applyRules(ctx, n); err != nil {
		return fmt.Errorf("resume %s: %w", id, err)
	}
	c.log.Info("node resumed", "node", id)
	return nil
}

// remove stops (or, with no grace, kills) a node and removes its container.
func (c *Cluster) remove(ctx context.Context, n *node, grace time.Duration) error {
	if n.ctr == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	if grace > 0 {
		errs = append(errs, c.stop(ctx, n, grace))
	} else {
		errs = append(errs, c.kill(ctx, n))
	}
	errs = append(errs, n.ctr.Terminate(ctx, testcontainers.StopTimeout(0)))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove %s: %w", n.info.ID, err)
	}
	return nil
}

// followLog attaches to the container before it starts, so that its log
// gets every line of this run, and copies the output until it stops.
// Attaching per run (rather than following `docker logs`) neither repeats
// earlier runs' output nor misses any.
func (c *Cluster) followLog(ctx context.Context, n *node) error {
	f, err := os.OpenFile(n.info.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	// The stream outlives this call.
	att, err := c.cli.ContainerAttach(context.WithoutCancel(ctx), n.ctr.ID,
		client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		f.Close()
		return fmt.Errorf("attach to the output: %w", err)
	}
	fmt.Fprintf(f, "=== quorumlab %s: starting %s in container %s: /kvnode %s\n",
		time.Now().Format(time.RFC3339Nano), n.info.ID, shortID(n.ctr.ID), strings.Join(launch.Redacted(n.args), " "))
	done := make(chan struct{})
	n.logDone = done
	go func() {
		defer close(done)
		defer f.Close()
		// The stream ends when the container stops (or its start failed
		// and the container is removed).
		_, _ = stdcopy.StdCopy(f, f, att.Reader)
		att.Close()
		fmt.Fprintf(f, "=== quorumlab %s: %s exited: %s\n", time.Now().Format(time.RFC3339Nano), n.info.ID, c.exitStatus(n))
	}()
	return nil
}

// exitStatus describes how a container's last run ended.
func (c *Cluster) exitStatus(n *node) string {
	ctx, cancel := context.WithTimeout(context.Background(), logDrainTimeout)
	defer cancel()
	res := c.cli.ContainerWait(ctx, n.ctr.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-res.Result:
		return fmt.Sprintf("exit code %d", r.StatusCode)
	case err := <-res.Error:
		return "unknown (" + err.Error() + ")"
	}
}

func (c *Cluster) waitHealthy(ctx context.Context, n *node) error {
	return healthStrategy{n.info, c.cfg.Secrets.ClientTLS()}.WaitUntilReady(ctx, n.ctr)
}

// secretFiles are copied in before the container starts, readable by its
// user only.
func secretFiles(secrets map[string][]byte) []testcontainers.ContainerFile {
	var out []testcontainers.ContainerFile
	for path, b := range secrets {
		out = append(out, testcontainers.ContainerFile{Reader: bytes.NewReader(b), ContainerFilePath: path, FileMode: 0o600})
	}
	return out
}

// healthStrategy waits until the node's gRPC health service, asked from
// the host at the node's container address, reports SERVING. A scratch image
// has no shell to exec a check in. It fails early, with the log's tail, if
// the container stops.
type healthStrategy struct {
	node cluster.Node
	tls  *tls.Config
}

var _ wait.Strategy = healthStrategy{}

func (h healthStrategy) String() string { return "gRPC health of " + h.node.Addr }

func (h healthStrategy) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	lastErr := errors.New("no check finished")
	for {
		if err := launch.CheckHealth(ctx, h.node.Addr, h.tls, time.Second); err == nil {
			return nil
		} else if ctx.Err() == nil {
			lastErr = err
		}
		if st, err := target.State(ctx); err == nil && !st.Running {
			return fmt.Errorf("%s exited before it became healthy (exit code %d); end of %s:\n%s",
				h.node.ID, st.ExitCode, h.node.LogPath, launch.LogTail(h.node.LogPath))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy at %s: %w (last check: %v); the harness reaches nodes at "+
				"their container addresses, which needs the Docker engine on this Linux host; end of %s:\n%s",
				h.node.ID, h.node.Addr, ctx.Err(), lastErr, h.node.LogPath, launch.LogTail(h.node.LogPath))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func shortID(id string) string { return id[:min(12, len(id))] }
