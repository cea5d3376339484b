// Package docker runs a kvnode cluster as Docker containers, through
// testcontainers-go: one container per node, on a bridge network made for the
// run. It implements cluster.Cluster like the local backend, so the same
// workloads, nemesis and checkers run on it.
//
// Image: FROM scratch with the static kvnode and netfault binaries the harness builds,
// tagged by content hash (quorumlab-kvnode:<hash>) and kept, so an unchanged
// binary is not rebuilt. Nothing is ever pulled: no registry is needed.
// Ryuk, testcontainers' reaper, is disabled (it would be a pull); Close and
// `quorumlab cleanup` remove what a run created, found by its labels. The
// client negotiates the API version, so engines from 20.10 (API 1.41) on
// work without DOCKER_API_VERSION.
//
// Client access: the harness reaches each node at its container IP on the
// run's network, where node i has the fixed address .(10+i) of a subnet
// Docker picks. On Linux the host routes to its bridge networks, and unlike
// mapped host ports these addresses survive kill and restart, so the
// harness's clients never re-dial. The price: the engine must run on this
// Linux host (not in Docker Desktop's VM, not remote).
//
// Faults: partitions and packet loss are nftables rules inside each
// container's network namespace, set by netfault (a static helper the image
// holds beside kvnode) run with docker exec (containers get CAP_NET_ADMIN): each node drops what it receives from
// the nodes it has a grudge against. The containers take a change in
// parallel, within about 0.1 s of each other, not at one instant as in the
// local backend's single namespace. A container gets a new namespace each
// time it starts and a paused one cannot exec, so a node that was down or
// paused when the rules changed gets them right after it starts or resumes.
// Kill is SIGKILL and Start a docker start of the same container, so the data
// dir (/data, in the container's writable layer) survives as a crashed
// machine's disk does. Pause is docker pause. Each container's output goes
// to nodes/<id>.log of the run, across restarts. The nodes gossip (port
// 8000), so AddNode can start one more container that joins the ring.
package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/launch"
)

const (
	nodePort = 7000
	// gossipPort is kvnode's default gossip port for nodePort.
	gossipPort = nodePort + 1000
	// peerPort is where each node serves its peers.
	peerPort = nodePort + 2000
	// secretsDir holds a TLS node's certificate, key, CA and cluster key.
	secretsDir = "/secrets"
	dataDir    = "/data"
	// maxNodes keeps node addresses within .11–.254 of the network's first
	// /24: .255 is a /24's broadcast address.
	maxNodes = 244
	// defaultStopGrace is how long a node may take to exit after SIGTERM.
	defaultStopGrace = 10 * time.Second
	// closeTimeout bounds a teardown, also when the caller's ctx is done.
	closeTimeout = time.Minute
)

// Labels on everything a run creates; cleanup finds leftovers by them.
const (
	labelRun   = "quorumlab.run"   // the run id, on containers and the network
	labelNode  = "quorumlab.node"  // the node id, on containers
	labelDir   = "quorumlab.dir"   // the run directory
	labelPID   = "quorumlab.pid"   // the harness process, to tell live runs
	labelHost  = "quorumlab.host"  // from those a killed harness left
	labelImage = "quorumlab.image" // on node images
)

// ErrNoDaemon is wrapped by errors that mean no Docker engine answered.
var ErrNoDaemon = errors.New("no Docker daemon reachable")

// Cluster is a cluster of kvnode containers; it implements cluster.Cluster.
type Cluster struct {
	log      *slog.Logger
	provider *testcontainers.DockerProvider
	cli      client.APIClient
	runID    string
	cfg      cluster.Config // with Dir absolute, for AddNode
	image    string
	labels   map[string]string
	network  *testcontainers.DockerNetwork // nil until created
	subnet   netip.Prefix

	adding sync.Mutex // one AddNode at a time
	nodes  launch.Set[*node]

	faults faults
	netErr error
	// stopGrace is how long a node may take to exit after SIGTERM.
	stopGrace time.Duration
}

var (
	_ cluster.Cluster   = (*Cluster)(nil)
	_ cluster.NodeAdder = (*Cluster)(nil)
)

// Start builds the node image if needed, creates the run's network and one
// container per node, starts them and waits until all are healthy. If
// anything fails, everything created is removed.
func Start(ctx context.Context, cfg cluster.Config, log *slog.Logger) (*Cluster, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := launch.NodesDir(cfg, maxNodes)
	if err != nil {
		return nil, fmt.Errorf("start docker cluster: %w", err)
	}
	provider, err := connect(ctx, log)
	if err != nil {
		return nil, fmt.Errorf("start docker cluster: %w", err)
	}
	// Without netfault the cluster runs, but network faults are unavailable.
	nf, netErr := launch.NetfaultBinary(ctx)
	if netErr != nil {
		nf, netErr = "", fmt.Errorf("network faults need the netfault helper in the image: %w", netErr)
	}
	var img image
	if cfg.Etcd() {
		var etcd string
		if etcd, err = launch.EtcdBinary(); err == nil {
			img, err = etcdImage(etcd, nf)
		}
	} else {
		var bin string
		if bin, err = launch.KVNodeBinary(ctx, cfg.KVNodeBin, true); err == nil {
			img, err = kvnodeImage(bin, nf)
		}
	}
	if err != nil {
		provider.Close()
		return nil, fmt.Errorf("start docker cluster: %w", err)
	}
	image, err := ensureImage(ctx, provider, img, log)
	if err != nil {
		provider.Close()
		return nil, fmt.Errorf("start docker cluster: %w", err)
	}

	cfg.Dir = dir
	c := &Cluster{
		log: log, provider: provider, cli: provider.Client(), runID: newRunID(),
		cfg: cfg, image: image, stopGrace: defaultStopGrace,
	}
	c.labels = c.makeLabels()
	if err := c.create(ctx); err != nil {
		return nil, c.abort(ctx, err)
	}
	if err := c.startAll(ctx); err != nil {
		return nil, c.abort(ctx, err)
	}
	c.netErr = netErr
	if c.netErr == nil {
		c.netErr = c.probeNetfault(ctx)
	}
	if c.netErr != nil {
		log.Warn("network faults unavailable", "err", c.netErr)
	}
	log.Info("docker cluster up", "nodes", cfg.Nodes, "run", c.runID, "image", image, "network", c.network.Name)
	return c, nil
}

// abort tears down after a failed Start and returns err with what that hit.
func (c *Cluster) abort(ctx context.Context, err error) error {
	if cerr := c.Close(ctx); cerr != nil {
		err = errors.Join(err, fmt.Errorf("tear down: %w", cerr))
	}
	return fmt.Errorf("start docker cluster: %w", err)
}

// connect returns a provider whose engine answered.
func connect(ctx context.Context, log *slog.Logger) (*testcontainers.DockerProvider, error) {
	// Ryuk would be pulled; we remove what we create ourselves. Set here so
	// that users need not; testcontainers reads it once, on first use.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	// Its default logger prints a banner on stderr when it first connects;
	// what our runs do is logged through log instead.
	tclog.SetDefault(tclog.NewNoopLogger())
	provider, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tcLogger{log}))
	if err != nil {
		return nil, noDaemon(err)
	}
	if _, err := provider.Client().Ping(ctx, client.PingOptions{}); err != nil {
		provider.Close()
		return nil, noDaemon(err)
	}
	return provider, nil
}

// noDaemon is the one line a user without a Docker engine gets.
func noDaemon(err error) error {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	return fmt.Errorf("%w (looked at $DOCKER_HOST, /var/run/docker.sock and rootless sockets: %s): "+
		"start Docker, or use --backend local", ErrNoDaemon, msg)
}

// Ping reports whether a Docker engine answers; its error wraps ErrNoDaemon.
func Ping(ctx context.Context) error {
	p, err := connect(ctx, nil)
	if err != nil {
		return err
	}
	return p.Close()
}

// create makes the network and the stopped containers. The nodes are the
// founding ring (--peers) and gossip with each other (--join, gossip on
// port nodePort+1000), so that nodes added later can join.
func (c *Cluster) create(ctx context.Context) error {
	nw, subnet, err := createNetwork(ctx, c.cli, c.labels)
	if err != nil {
		return err
	}
	c.network, c.subnet = nw, subnet
	infos := make([]cluster.Node, c.cfg.Nodes)
	peers := make([]string, len(infos))
	for i := range infos {
		if infos[i], err = nodeInfo(c.cfg.Dir, subnet, i); err != nil {
			return err
		}
		peers[i] = infos[i].ID + "=" + infos[i].PeerAddr
	}
	for _, info := range infos {
		if _, err := c.newNode(ctx, info, strings.Join(peers, ","), infos); err != nil {
			return err
		}
	}
	return nil
}

// newNode creates the stopped container of a node and records it: a
// founding ring member if peers is set, else one that joins the ring by
// gossip. It gossips with seeds.
func (c *Cluster) newNode(ctx context.Context, info cluster.Node, peers string, seeds []cluster.Node) (*node, error) {
	cfg := c.cfg
	cfg.ExtraArgs = nil
	gossip := make([]string, len(seeds))
	for i, s := range seeds {
		gossip[i] = net.JoinHostPort(s.IP, strconv.Itoa(gossipPort))
	}
	args := launch.ServeArgs(cfg, info, dataDir, peers)
	args = append(args, "--join", strings.Join(gossip, ","))
	n := &node{info: info, ip: netip.MustParseAddr(info.IP)}
	secrets := ""
	if c.cfg.Secrets != nil {
		secrets = secretsDir
	}
	if c.cfg.Etcd() {
		args = launch.EtcdArgs(info, seeds, dataDir, secrets)
	}
	if c.cfg.Secrets != nil {
		files, err := c.cfg.Secrets.NodeFiles(info.ID, info.IP)
		if err != nil {
			return nil, err
		}
		n.secrets = map[string][]byte{}
		for name, b := range files {
			n.secrets[filepath.Join(secretsDir, name)] = b
		}
		if !c.cfg.Etcd() {
			args = append(args, launch.SecretArgs(secretsDir)...)
		}
	}
	n.args = append(args, c.cfg.ExtraArgs...)
	if err := c.createContainer(ctx, n, c.image, c.labels); err != nil {
		return nil, err
	}
	if err := c.nodes.Add(n); err != nil {
		// Close has taken, or will take, its list of nodes without this one.
		if _, rerr := c.cli.ContainerRemove(context.WithoutCancel(ctx), n.ctr.ID, client.ContainerRemoveOptions{Force: true}); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove its container %s: %w", shortID(n.ctr.ID), rerr))
		}
		return nil, err
	}
	return n, nil
}

// AddNode starts node n<K+1> in a new container, which joins the cluster by
// gossip and enters the ring on its own, and waits until it is healthy.
// A partition in effect does not name it: it reaches every node.
func (c *Cluster) AddNode(ctx context.Context) (cluster.Node, error) {
	c.adding.Lock()
	defer c.adding.Unlock()
	if c.nodes.Closing() {
		return cluster.Node{}, fmt.Errorf("add node: %w", launch.ErrClosed)
	}
	if c.cfg.Etcd() {
		return cluster.Node{}, errors.New("add node: etcd members are founded together; adding one is not supported")
	}
	seeds := c.Nodes()
	info, err := nodeInfo(c.cfg.Dir, c.subnet, len(seeds))
	if err != nil {
		return cluster.Node{}, fmt.Errorf("add node: %w", err)
	}
	n, err := c.newNode(ctx, info, "", seeds)
	if err == nil {
		err = c.startContainer(ctx, n)
	}
	if err == nil {
		err = c.waitHealthy(ctx, n)
	}
	if err != nil {
		return cluster.Node{}, fmt.Errorf("add node: %w", err)
	}
	c.log.Info("node added", "node", info.ID, "addr", info.Addr)
	return info, nil
}

func (c *Cluster) makeLabels() map[string]string {
	return map[string]string{
		labelRun:  c.runID,
		labelDir:  c.cfg.Dir,
		labelPID:  pidString(),
		labelHost: hostname(),
	}
}

// createNetwork makes a bridge network with a subnet of Docker's choosing:
// fixed container addresses need a subnet given at creation, so the network
// is made once to learn a free subnet and again with it. Another run taking
// that subnet in between makes the second create fail; then it tries again.
func createNetwork(ctx context.Context, cli client.APIClient, labels map[string]string) (*testcontainers.DockerNetwork, netip.Prefix, error) {
	var lastErr error
	for range 5 {
		probe, err := tcnetwork.New(ctx, tcnetwork.WithLabels(labels))
		if err != nil {
			return nil, netip.Prefix{}, fmt.Errorf("create network: %w", err)
		}
		res, err := cli.NetworkInspect(ctx, probe.ID, client.NetworkInspectOptions{})
		if rerr := probe.Remove(ctx); rerr != nil {
			return nil, netip.Prefix{}, fmt.Errorf("remove probe network: %w", rerr)
		}
		if err != nil {
			return nil, netip.Prefix{}, fmt.Errorf("inspect network: %w", err)
		}
		var ipam []network.IPAMConfig
		for _, cfg := range res.Network.IPAM.Config {
			if cfg.Subnet.Addr().Is4() {
				ipam = append(ipam, cfg)
			}
		}
		if len(ipam) == 0 {
			return nil, netip.Prefix{}, errors.New("create network: Docker gave it no IPv4 subnet")
		}
		subnet := ipam[0].Subnet.Masked()
		nw, err := tcnetwork.New(ctx, tcnetwork.WithLabels(labels), tcnetwork.WithIPAM(&network.IPAM{
			Config: []network.IPAMConfig{{Subnet: subnet, Gateway: ipam[0].Gateway}},
		}))
		if err == nil {
			return nw, subnet, nil
		}
		lastErr = err
	}
	return nil, netip.Prefix{}, fmt.Errorf("create network: %w", lastErr)
}

// nodeInfo lays out node i (from 0): n<i+1> at .(11+i) of subnet.
func nodeInfo(dir string, subnet netip.Prefix, i int) (cluster.Node, error) {
	if !subnet.Addr().Is4() || subnet.Bits() > 24 {
		return cluster.Node{}, fmt.Errorf("network subnet %v: need an IPv4 /24 or larger", subnet)
	}
	if i >= maxNodes {
		return cluster.Node{}, fmt.Errorf("node %d: at most %d nodes", i+1, maxNodes)
	}
	ip := subnet.Masked().Addr().As4()
	ip[3] = byte(10 + i + 1)
	id := "n" + strconv.Itoa(i+1)
	addr := netip.AddrFrom4(ip).String()
	return cluster.Node{
		ID:       id,
		Addr:     net.JoinHostPort(addr, strconv.Itoa(nodePort)),
		PeerAddr: net.JoinHostPort(addr, strconv.Itoa(peerPort)),
		IP:       addr,
		LogPath:  filepath.Join(dir, "nodes", id+".log"),
	}, nil
}

func newRunID() string {
	b := make([]byte, 5)
	rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

// startAll starts every node before waiting for any: nodes may need their
// peers to become healthy. Containers start in parallel: each start takes
// the engine a good half second.
func (c *Cluster) startAll(ctx context.Context) error {
	nodes := c.nodes.All()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { errs[i] = c.startContainer(ctx, n) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	for _, n := range nodes {
		wg.Go(func() {
			if err := c.waitHealthy(ctx, n); err != nil {
				cancel(err) // only the first cause sticks
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// Nodes returns the nodes in id order.
func (c *Cluster) Nodes() []cluster.Node { return c.nodes.Nodes() }

// Close resumes and stops every node and removes the containers (with their
// data) and the network; the logs and the image stay. It may be called more
// than once and concurrently: later calls wait for the first and return its
// result. A done ctx makes it kill rather than stop the nodes; teardown goes
// on regardless.
func (c *Cluster) Close(ctx context.Context) error {
	return c.nodes.Close(func() error { return c.close(ctx) })
}

func (c *Cluster) close(ctx context.Context) error {
	grace := c.stopGrace
	if ctx.Err() != nil {
		grace = 0
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()

	// No need to heal: a container's rules go with its network namespace.
	nodes := c.nodes.All()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { errs[i] = c.remove(ctx, n, grace) })
	}
	wg.Wait()
	if c.network != nil {
		if err := c.network.Remove(ctx); err != nil {
			errs = append(errs, fmt.Errorf("remove network %s: %w", c.network.Name, err))
		}
	}
	errs = append(errs, c.provider.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close docker cluster: %w", err)
	}
	c.log.Info("docker cluster closed", "run", c.runID)
	return nil
}

// tcLogger sends testcontainers' chatter to the debug level.
type tcLogger struct{ log *slog.Logger }

func (l tcLogger) Printf(format string, args ...any) {
	if l.log != nil {
		l.log.Debug(strings.TrimSpace(fmt.Sprintf(format, args...)), "from", "testcontainers")
	}
}
