package local

import (
	"context"
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

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/launch"
)

const (
	nodePort = 7000
	// gossipPort is every node's gossip port inside the namespace.
	gossipPort = 8000
	// peerPort is every node's peer port inside the namespace.
	peerPort = 9000
	// maxNodes keeps node addresses 127.0.0.(10+i) within 127.0.0.0/24.
	maxNodes = 245
	// defaultStopGrace is how long a node may take to exit after SIGTERM.
	defaultStopGrace = 10 * time.Second
	// closeTimeout bounds a teardown after a failed Start.
	closeTimeout = 30 * time.Second
)

// Cluster is a cluster of kvnode child processes; it implements
// cluster.Cluster.
type Cluster struct {
	log  *slog.Logger
	bin  string
	cfg  cluster.Config // with Dir absolute, for AddNode
	inNS bool

	nodes launch.Set[*node]

	net    *netfaults // nil when netErr is set
	netErr error
	// secrets holds each node's TLS files, private to this user, beside
	// the data dirs (so a store cleanup finds it after a crash); empty
	// without TLS. It goes at Close, kept data or not.
	secrets string
	// founders are the nodes Start made; etcd founds its cluster with them.
	founders []cluster.Node
	// stopGrace is how long a node may take to exit after SIGTERM.
	stopGrace time.Duration
}

var (
	_ cluster.Cluster     = (*Cluster)(nil)
	_ cluster.NodeAdder   = (*Cluster)(nil)
	_ cluster.PowerCutter = (*Cluster)(nil)
	_ cluster.Delayer     = (*Cluster)(nil)
)

// Start starts cfg.Nodes kvnodes and waits until all are healthy. Inside a
// namespace made by Reexec node n<i> listens on 127.0.0.(10+i):7000 (gossip
// on :8000); otherwise all nodes share 127.0.0.1 on free ports and network
// faults are unavailable. The nodes are the founding ring (--peers) and
// gossip with each other (--join), so that nodes added later can join. If
// any node fails, everything started is torn down.
func Start(ctx context.Context, cfg cluster.Config, log *slog.Logger) (*Cluster, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := launch.NodesDir(cfg, maxNodes)
	if err != nil {
		return nil, fmt.Errorf("start local cluster: %w", err)
	}
	var bin string
	if cfg.Etcd() {
		bin, err = launch.EtcdBinary()
	} else {
		bin, err = launch.KVNodeBinary(ctx, cfg.KVNodeBin, false)
	}
	if err != nil {
		return nil, fmt.Errorf("start local cluster: %w", err)
	}

	inNS := InNamespace()
	if cfg.PowerLoss {
		switch {
		case !inNS:
			return nil, fmt.Errorf("start local cluster: power faults need the private namespace (the FUSE mounts must vanish with the harness): %s", noNamespaceReason())
		case os.Getenv(envNoPrivateMounts) != "":
			return nil, fmt.Errorf("start local cluster: power faults need private mounts in the namespace (the FUSE mounts must not reach the host): %s", os.Getenv(envNoPrivateMounts))
		case cfg.Etcd():
			return nil, errors.New("start local cluster: power faults are for kvnode: etcd's bbolt maps its file into memory, which the power-loss file system (direct I/O) refuses")
		}
	}
	infos, err := nodeInfos(dir, cfg.Nodes, inNS)
	if err != nil {
		return nil, fmt.Errorf("start local cluster: %w", err)
	}
	cfg.Dir = dir
	c := &Cluster{log: log, bin: bin, cfg: cfg, inNS: inNS, stopGrace: defaultStopGrace}
	peers := make([]string, len(infos))
	ips := make(map[string]netip.Addr)
	gossip, err := c.gossipAddrs(infos)
	if err != nil {
		return nil, fmt.Errorf("start local cluster: %w", err)
	}
	for i, info := range infos {
		peers[i] = info.ID + "=" + info.PeerAddr
		ips[info.ID] = netip.MustParseAddr(info.IP)
	}
	if cfg.Secrets != nil {
		c.secrets = filepath.Join(cluster.DataDir(dir), "secrets")
		if err := os.MkdirAll(c.secrets, 0o700); err != nil {
			return nil, fmt.Errorf("start local cluster: %w", err)
		}
	}
	c.founders = infos
	for i, info := range infos {
		if _, err := c.addNode(info, strings.Join(peers, ","), gossip[i], gossip); err != nil {
			os.RemoveAll(c.secrets)
			return nil, fmt.Errorf("start local cluster: %w", err)
		}
	}

	if !inNS {
		c.netErr = fmt.Errorf("network faults need a private network namespace: %s", noNamespaceReason())
	} else if cfg.Etcd() {
		// Rules match a node's own address; etcd dials its peers from the
		// namespace's default 127.0.0.1, so no rule could tell members apart.
		c.netErr = errors.New("network faults on etcd need the docker backend: in the local backend's one namespace etcd members dial each other from 127.0.0.1, so a rule cannot tell them apart")
	} else if c.net, err = newNetfaults(ips); err != nil {
		c.netErr = fmt.Errorf("network faults need nftables in the private network namespace: %w", err)
	}
	if c.netErr != nil {
		log.Warn("network faults unavailable", "err", c.netErr)
	}

	if err := c.startAll(ctx); err != nil {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		if cerr := c.Close(closeCtx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("tear down: %w", cerr))
		}
		return nil, fmt.Errorf("start local cluster: %w", err)
	}
	log.Info("local cluster up", "nodes", len(infos), "namespace", inNS, "kvnode", bin)
	return c, nil
}

// gossipAddrs picks the nodes' gossip addresses: port 8000 of each node's
// own IP in the namespace, free ports on 127.0.0.1 otherwise.
func (c *Cluster) gossipAddrs(infos []cluster.Node) ([]string, error) {
	var ports []int
	if !c.inNS {
		var err error
		if ports, err = freePorts(len(infos)); err != nil {
			return nil, err
		}
	}
	out := make([]string, len(infos))
	for i, info := range infos {
		port := gossipPort
		if !c.inNS {
			port = ports[i]
		}
		out[i] = net.JoinHostPort(info.IP, strconv.Itoa(port))
	}
	return out, nil
}

// addNode records a node and its command line: a founding ring member if
// peers is set, else a node that joins the ring by gossip.
func (c *Cluster) addNode(info cluster.Node, peers, gossip string, seeds []string) (*node, error) {
	dataDir := filepath.Join(cluster.DataDir(c.cfg.Dir), info.ID)
	nodeDir, mount := dataDir, ""
	if c.cfg.PowerLoss {
		// The node writes through the mount; what it synced lands in
		// dataDir, which is what --keep-data keeps.
		mount = filepath.Join(cluster.DataDir(c.cfg.Dir), ".power", info.ID)
		nodeDir = mount
	}
	cfg := c.cfg
	cfg.ExtraArgs = nil
	args := launch.ServeArgs(cfg, info, nodeDir, peers)
	args = append(args, "--gossip-listen", gossip, "--join", strings.Join(seeds, ","))
	secrets := ""
	if c.cfg.Secrets != nil {
		var err error
		if secrets, err = c.writeSecrets(info); err != nil {
			return nil, err
		}
		args = append(args, launch.SecretArgs(secrets)...)
	}
	if c.cfg.Etcd() {
		args = launch.EtcdArgs(info, c.founders, dataDir, secrets)
	}
	n := &node{info: info, dataDir: dataDir, mount: mount, gossip: gossip, args: append(args, c.cfg.ExtraArgs...), tls: c.cfg.Secrets.ClientTLS()}
	if err := c.nodes.Add(n); err != nil {
		return nil, err
	}
	return n, nil
}

// writeSecrets writes a node's TLS files into its own directory under
// c.secrets and returns it.
func (c *Cluster) writeSecrets(info cluster.Node) (string, error) {
	files, err := c.cfg.Secrets.NodeFiles(info.ID, info.IP)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(c.secrets, info.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("secrets of %s: %w", info.ID, err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return "", fmt.Errorf("secrets of %s: %w", info.ID, err)
		}
	}
	return dir, nil
}

// AddNode starts node n<K+1>, which joins the cluster by gossip and enters
// the ring on its own, and waits until it is healthy.
func (c *Cluster) AddNode(ctx context.Context) (cluster.Node, error) {
	if c.nodes.Closing() {
		return cluster.Node{}, fmt.Errorf("add node: %w", launch.ErrClosed)
	}
	if c.cfg.Etcd() {
		return cluster.Node{}, errors.New("add node: etcd members are founded together; adding one is not supported")
	}
	nodes := c.nodes.All()
	k := len(nodes)
	var seeds []string
	for _, n := range nodes {
		seeds = append(seeds, n.gossip)
	}
	if k >= maxNodes {
		return cluster.Node{}, fmt.Errorf("add node: already %d nodes", k)
	}
	ports := []int{nodePort, peerPort}
	if !c.inNS {
		var err error
		if ports, err = freePorts(2); err != nil {
			return cluster.Node{}, fmt.Errorf("add node: %w", err)
		}
	}
	info := nodeInfo(c.cfg.Dir, k, c.inNS, ports[0], ports[1])
	gossip, err := c.gossipAddrs([]cluster.Node{info})
	if err != nil {
		return cluster.Node{}, fmt.Errorf("add node: %w", err)
	}
	if c.net != nil {
		c.net.addNode(info.ID, netip.MustParseAddr(info.IP))
	}
	n, err := c.addNode(info, "", gossip[0], seeds)
	if err != nil {
		return cluster.Node{}, fmt.Errorf("add node: %w", err)
	}
	p, err := c.spawn(n)
	if err != nil {
		return cluster.Node{}, fmt.Errorf("add node %s: %w", info.ID, err)
	}
	if err := waitHealthy(ctx, n, p); err != nil {
		return cluster.Node{}, fmt.Errorf("add node: %w", err)
	}
	c.log.Info("node added", "node", info.ID, "addr", info.Addr)
	return info, nil
}

// startAll starts every node before waiting for any: nodes may need their
// peers to become healthy. It returns the first failure without waiting for
// the other nodes.
func (c *Cluster) startAll(ctx context.Context) error {
	nodes := c.nodes.All()
	procs := make([]*proc, len(nodes))
	for i, n := range nodes {
		p, err := c.spawn(n)
		if err != nil {
			return err
		}
		procs[i] = p
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			if err := waitHealthy(ctx, n, procs[i]); err != nil {
				cancel(err) // only the first cause sticks
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// nodeInfos lays out node ids and addresses.
func nodeInfos(dir string, count int, inNS bool) ([]cluster.Node, error) {
	var ports []int
	if !inNS {
		var err error
		if ports, err = freePorts(2 * count); err != nil {
			return nil, err
		}
	}
	infos := make([]cluster.Node, count)
	for i := range infos {
		port, peer := nodePort, peerPort
		if !inNS {
			port, peer = ports[2*i], ports[2*i+1]
		}
		infos[i] = nodeInfo(dir, i, inNS, port, peer)
	}
	return infos, nil
}

// nodeInfo lays out node n<i+1>; the ports are used outside a namespace.
func nodeInfo(dir string, i int, inNS bool, port, peer int) cluster.Node {
	id := "n" + strconv.Itoa(i+1)
	ip := "127.0.0.1"
	if inNS {
		ip, port, peer = netip.AddrFrom4([4]byte{127, 0, 0, byte(11 + i)}).String(), nodePort, peerPort
	}
	return cluster.Node{
		ID:       id,
		Addr:     net.JoinHostPort(ip, strconv.Itoa(port)),
		PeerAddr: net.JoinHostPort(ip, strconv.Itoa(peer)),
		IP:       ip,
		LogPath:  filepath.Join(dir, "nodes", id+".log"),
	}
}

// freePorts asks the kernel for n distinct free ports on 127.0.0.1. They are
// released before the nodes bind them, which is racy but rarely loses.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close() // hold all until every port is chosen
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func noNamespaceReason() string {
	if r := os.Getenv(envNoNetNS); r != "" {
		return r
	}
	return "the harness is not running in one (local.Reexec was not called)"
}

// Nodes returns the nodes in id order.
func (c *Cluster) Nodes() []cluster.Node { return c.nodes.Nodes() }

// NetworkError says why network faults are unavailable, or is nil.
func (c *Cluster) NetworkError() error { return c.netErr }

// Partition drops packets per the grudge, replacing any earlier partition;
// packet loss rules stay.
func (c *Cluster) Partition(ctx context.Context, g cluster.Grudge) error {
	if err := c.netCheck(ctx); err != nil {
		return err
	}
	if err := c.net.setPartition(g); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	c.log.Info("network partitioned", "grudge", g)
	return nil
}

// Loss drops a share p of the packets between every pair of ids, replacing
// any earlier loss rules; partition rules stay.
func (c *Cluster) Loss(ctx context.Context, ids []string, p float64) error {
	if err := c.netCheck(ctx); err != nil {
		return err
	}
	if err := c.net.setLoss(ids, p); err != nil {
		return fmt.Errorf("packet loss: %w", err)
	}
	c.log.Info("packet loss", "nodes", ids, "p", p)
	return nil
}

// Delay holds the packets between every pair of ids for d (NFQUEUE, read
// by this process).
func (c *Cluster) Delay(ctx context.Context, ids []string, d time.Duration) error {
	if err := c.netCheck(ctx); err != nil {
		return err
	}
	if err := c.net.setDelay(ids, d); err != nil {
		return fmt.Errorf("packet delay: %w", err)
	}
	c.log.Info("packet delay", "nodes", ids, "delay", d)
	return nil
}

// HealNetwork removes every partition and loss rule.
func (c *Cluster) HealNetwork(ctx context.Context) error {
	if err := c.netCheck(ctx); err != nil {
		return err
	}
	if err := c.net.heal(); err != nil {
		return fmt.Errorf("heal network: %w", err)
	}
	c.log.Info("network healed")
	return nil
}

func (c *Cluster) netCheck(ctx context.Context) error {
	if c.netErr != nil {
		return c.netErr
	}
	return ctx.Err()
}

// Close heals the network, stops every node (resuming paused ones), deletes
// the nftables table and the data dirs; the logs stay. It may be called more
// than once and concurrently, e.g. from a signal handler: later calls wait
// for the first and return its result. A done ctx makes it kill rather than
// stop the nodes.
func (c *Cluster) Close(ctx context.Context) error {
	return c.nodes.Close(func() error { return c.close(ctx) })
}

func (c *Cluster) close(ctx context.Context) error {
	var errs []error
	if c.net != nil {
		// Before stopping, so nodes don't shut down against a broken network.
		if err := c.net.heal(); err != nil {
			errs = append(errs, err)
		}
	}
	nodes := c.nodes.All()
	stopErrs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { stopErrs[i] = c.stop(ctx, n) })
	}
	wg.Wait()
	errs = append(errs, stopErrs...)
	if c.net != nil {
		errs = append(errs, c.net.close())
	}
	for _, n := range nodes {
		if err := n.unmount(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.info.ID, err))
		}
	}
	if c.cfg.PowerLoss && len(nodes) > 0 {
		_ = os.Remove(filepath.Join(cluster.DataDir(c.cfg.Dir), ".power"))
	}
	for _, n := range nodes {
		if c.cfg.KeepData {
			break
		}
		if err := os.RemoveAll(n.dataDir); err != nil {
			errs = append(errs, fmt.Errorf("remove data dir: %w", err))
		}
	}
	if c.secrets != "" {
		if err := os.RemoveAll(c.secrets); err != nil {
			errs = append(errs, fmt.Errorf("remove secrets: %w", err))
		}
	}
	if len(nodes) > 0 && !c.cfg.KeepData {
		_ = os.Remove(filepath.Dir(nodes[0].dataDir)) // only if empty
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close local cluster: %w", err)
	}
	c.log.Info("local cluster closed")
	return nil
}
