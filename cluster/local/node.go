package local

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/launch"
	"github.com/quorumlab/quorumlab/cluster/powerfs"
)

const (
	// healthTimeout bounds the wait for a node to serve, whatever ctx says.
	healthTimeout = 60 * time.Second
)

// node is one kvnode: its fixed command line and its current process.
type node struct {
	info    cluster.Node
	dataDir string
	gossip  string // gossip address
	args    []string
	tls     *tls.Config // the harness's client side; nil: plaintext
	// mount, with power faults, is where the node sees its data dir: a
	// powerfs over dataDir, mounted at the first start. power is nil
	// until then and after Close.
	mount string
	power *powerfs.FS

	mu     sync.Mutex // guards proc and paused, and orders signals
	proc   *proc      // the latest process; nil before the first start
	paused bool
}

// Info is what the harness knows of n.
func (n *node) Info() cluster.Node { return n.info }

// proc is one run of a node's process.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // Wait's result, set before done is closed
}

func (p *proc) running() bool {
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// spawn starts n's process; the caller waits for it to become healthy.
func (c *Cluster) spawn(n *node) (*proc, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c.nodes.Closing() {
		return nil, launch.ErrClosed
	}
	if n.proc.running() {
		return n.proc, nil
	}
	if err := os.MkdirAll(n.dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", n.info.ID, err)
	}
	if n.mount != "" && n.power == nil {
		if err := os.MkdirAll(n.mount, 0o755); err != nil {
			return nil, fmt.Errorf("%s: %w", n.info.ID, err)
		}
		fs, err := powerfs.Mount(n.mount, n.dataDir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.info.ID, err)
		}
		n.power = fs
	}
	logf, err := os.OpenFile(n.info.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: open log: %w", n.info.ID, err)
	}
	defer logf.Close() // the child has its own descriptor
	fmt.Fprintf(logf, "=== quorumlab %s: starting %s: %s %s\n",
		time.Now().Format(time.RFC3339Nano), n.info.ID, c.bin, strings.Join(launch.Redacted(n.args), " "))

	cmd := exec.Command(c.bin, n.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = os.Environ()
	for k, v := range c.cfg.NodeEnv() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group, so that a terminal's Ctrl-C reaches only
		// the harness, which then shuts nodes down in order.
		Setpgid: true,
		// A harness that dies without cleaning up takes its nodes along.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", n.info.ID, c.bin, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		appendLog(n.info.LogPath, fmt.Sprintf("=== quorumlab %s: %s exited: %s\n",
			time.Now().Format(time.RFC3339Nano), n.info.ID, cmd.ProcessState))
		close(p.done)
	}()
	n.proc, n.paused = p, false
	c.log.Info("node started", "node", n.info.ID, "pid", cmd.Process.Pid, "addr", n.info.Addr)
	return p, nil
}

// Start restarts a killed or stopped node on its data dir and waits until it
// is healthy. A node that is running already is only waited for.
func (c *Cluster) Start(ctx context.Context, id string) error {
	n, err := c.nodes.Get(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	paused := n.paused && n.proc.running()
	n.mu.Unlock()
	if paused {
		return fmt.Errorf("start %s: it is paused; resume it instead", id)
	}
	p, err := c.spawn(n)
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	return waitHealthy(ctx, n, p)
}

// Kill sends SIGKILL and waits until the process is gone.
func (c *Cluster) Kill(ctx context.Context, id string) error {
	n, err := c.nodes.Get(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.paused = false
	p := n.proc
	if !p.running() {
		return nil
	}
	// SIGKILL needs no SIGCONT: it also ends stopped processes.
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", id, err)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return fmt.Errorf("kill %s: %w", id, ctx.Err())
	}
	c.log.Info("node killed", "node", id)
	return nil
}

// PowerLoss kills a node and discards what it wrote but did not fsync.
func (c *Cluster) PowerLoss(ctx context.Context, id string) (int64, error) {
	n, err := c.nodes.Get(id)
	if err != nil {
		return 0, err
	}
	if n.mount == "" {
		return 0, fmt.Errorf("power loss of %s: the cluster was started without power faults", id)
	}
	if err := c.Kill(ctx, id); err != nil {
		return 0, fmt.Errorf("power loss: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.power == nil || n.proc.running() {
		return 0, fmt.Errorf("power loss of %s: it was started again meanwhile", id)
	}
	// Reaped, so every request of the process has been answered.
	lost := n.power.Crash()
	appendLog(n.info.LogPath, fmt.Sprintf("=== quorumlab %s: %s lost power: %d bytes of unsynced writes discarded\n",
		time.Now().Format(time.RFC3339Nano), id, lost))
	c.log.Info("node lost power", "node", id, "lost_bytes", lost)
	return lost, nil
}

// unmount unmounts a stopped node's power-loss file system, if any.
func (n *node) unmount() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.power == nil {
		return nil
	}
	if err := n.power.Unmount(); err != nil {
		return err
	}
	n.power = nil
	return os.Remove(n.mount)
}

// Stop sends SIGTERM and waits up to 10s (or until ctx is done) for the node
// to exit before killing it.
func (c *Cluster) Stop(ctx context.Context, id string) error {
	n, err := c.nodes.Get(id)
	if err != nil {
		return err
	}
	return c.stop(ctx, n)
}

func (c *Cluster) stop(ctx context.Context, n *node) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.proc
	wasPaused := n.paused
	n.paused = false
	if !p.running() {
		return nil
	}
	sigs := []syscall.Signal{syscall.SIGTERM}
	if wasPaused {
		// A stopped process acts on SIGTERM only once it continues.
		sigs = append(sigs, syscall.SIGCONT)
	}
	for _, sig := range sigs {
		if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("stop %s: %w", n.info.ID, err)
		}
	}
	timer := time.NewTimer(c.stopGrace)
	defer timer.Stop()
	select {
	case <-p.done:
		c.log.Info("node stopped", "node", n.info.ID)
		return nil
	case <-timer.C:
		c.log.Warn("node ignored SIGTERM; killing it", "node", n.info.ID, "grace", c.stopGrace)
	case <-ctx.Done():
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", n.info.ID, err)
	}
	<-p.done // SIGKILL cannot be ignored
	return nil
}

// Pause freezes a node with SIGSTOP and returns once it is stopped.
func (c *Cluster) Pause(ctx context.Context, id string) error {
	n, err := c.nodes.Get(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.proc
	if !p.running() {
		return fmt.Errorf("pause %s: not running", id)
	}
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("pause %s: %w", id, err)
	}
	n.paused = true
	// The signal is asynchronous; callers record the fault as in effect.
	if err := waitStopped(ctx, p); err != nil {
		return fmt.Errorf("pause %s: %w", id, err)
	}
	c.log.Info("node paused", "node", id)
	return nil
}

// Resume thaws a paused node with SIGCONT.
func (c *Cluster) Resume(ctx context.Context, id string) error {
	n, err := c.nodes.Get(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.paused = false
	p := n.proc
	if !p.running() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("resume %s: %w", id, err)
	}
	c.log.Info("node resumed", "node", id)
	return nil
}

// waitStopped polls /proc until the process is in the stopped state.
func waitStopped(ctx context.Context, p *proc) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	path := "/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/stat"
	for {
		stat, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read process state: %w", err)
		}
		// The state follows the parenthesized command name.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'T' {
			return nil
		}
		select {
		case <-p.done:
			return errors.New("process exited")
		case <-ctx.Done():
			return fmt.Errorf("process did not stop: %w", ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// waitHealthy waits until the node's gRPC health service reports the
// server SERVING, failing early (with the log's tail) if the process exits.
func waitHealthy(ctx context.Context, n *node, p *proc) error {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	// Abort a pending check as soon as the process is gone.
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	}()

	lastErr := errors.New("no check finished")
	for {
		if err := launch.CheckHealth(ctx, n.info.Addr, n.tls, time.Second); err == nil {
			return nil
		} else if ctx.Err() == nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
			continue
		}
		if !p.running() {
			return fmt.Errorf("%s exited before it became healthy (%v); end of %s:\n%s",
				n.info.ID, p.err, n.info.LogPath, launch.LogTail(n.info.LogPath))
		}
		return fmt.Errorf("%s not healthy: %w (last check: %v); end of %s:\n%s",
			n.info.ID, ctx.Err(), lastErr, n.info.LogPath, launch.LogTail(n.info.LogPath))
	}
}

// appendLog adds a harness note to a node's log.
func appendLog(path, line string) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteString(line)
}
