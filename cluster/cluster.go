// Package cluster defines how the harness starts, stops and breaks a kvnode
// cluster; backends (local processes, Docker containers) implement it.
package cluster

import (
	"context"
	"path/filepath"
	"time"

	"github.com/quorumlab/quorumlab/cluster/secrets"
	"github.com/quorumlab/quorumlab/target"
)

// Config describes the cluster a backend starts. Every node runs
// `kvnode serve` with these settings.
type Config struct {
	// Target is the store every node runs: kvnode ("" too) or etcd, whose
	// members ignore the kvnode settings (quorums, mode, repair, vnodes).
	Target     string `json:"target,omitempty"`
	Nodes      int    // number of nodes, ids n1…nK
	N, W, R    int    // replication settings
	Mode       string // lww | vclock | linearizable
	ReadRepair string // async | sync | off
	Fsync      bool
	VNodes     int `json:"vnodes"`
	Sloppy     bool
	// RequestTimeout is the coordinator's deadline for replica replies.
	RequestTimeout time.Duration
	// Dir is the run directory: nodes/<id>.log go under it, and the local
	// backend's data dirs, in DataDir(Dir) (the docker backend's are inside
	// the containers).
	Dir string
	// KeepData leaves the local backend's data dirs in place at Close, for
	// the caller to keep or remove once it knows the verdict.
	KeepData bool
	// KVNodeBin is the kvnode binary to run; empty means find or build it.
	KVNodeBin string `json:"kvnode_bin"`
	// AdminToken enables the admin service on every node (clock offsets).
	// Nodes get it in their environment, not their command line (which ps
	// shows), and it is never stored.
	AdminToken string `json:"-"`
	// Secrets, if set, run the cluster with mutual TLS on every port and an
	// encrypted gossip; nil is plaintext.
	Secrets *secrets.Secrets `json:"-"`
	// TombstoneGrace, if set, is kvnode's --tombstone-grace: how long a
	// delete's tombstone is kept before it is collected.
	TombstoneGrace time.Duration `json:"tombstone_grace,omitempty"`
	// ExtraArgs are appended to every `kvnode serve` command line.
	ExtraArgs []string
	// PowerLoss serves every node's data dir through a file system that
	// holds unsynced writes in memory, so that PowerCutter can lose them
	// (local backend only).
	PowerLoss bool `json:"power_loss,omitempty"`
}

// Etcd reports whether the nodes run etcd.
func (c Config) Etcd() bool { return c.Target == target.Etcd }

// NodeEnv is the environment a node runs with, beside its command line.
func (c Config) NodeEnv() map[string]string {
	if c.AdminToken == "" {
		return nil
	}
	return map[string]string{"KVNODE_ADMIN_TOKEN": c.AdminToken}
}

// DataDir is where the local backend keeps the nodes' data dirs of the
// run in dir, one per node id.
func DataDir(dir string) string { return filepath.Join(dir, "data") }

// MetricsPort is where every node serves its Prometheus metrics, on its
// own IP.
const MetricsPort = "9464"

// Node is what the harness knows of one node.
type Node struct {
	ID   string
	Addr string // gRPC address reachable by the harness's clients
	// PeerAddr is where the node serves its peers (never the harness).
	PeerAddr string
	IP       string // the node's own IP, the unit of network faults
	LogPath  string
}

// Grudge says, per node id, which node ids it drops traffic from. Backends
// apply it symmetrically only if the grudge is symmetric.
type Grudge map[string][]string

// Cluster is a running cluster. Every method is safe for concurrent use.
type Cluster interface {
	Nodes() []Node
	// Kill sends SIGKILL; Stop shuts down cleanly (SIGTERM); Start restarts a
	// killed or stopped node on the same data dir and waits until it is healthy.
	Kill(ctx context.Context, id string) error
	Stop(ctx context.Context, id string) error
	Start(ctx context.Context, id string) error
	// Pause freezes a node (SIGSTOP or docker pause); Resume thaws it.
	Pause(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	// NetworkError is nil when partitions and packet loss can be applied, and
	// otherwise says why not.
	NetworkError() error
	// Partition drops packets per the grudge, replacing any partition (an
	// empty grudge removes it); loss rules stay.
	Partition(ctx context.Context, g Grudge) error
	// Loss drops the given share (0..1) of packets between every pair of the
	// given nodes, replacing any loss rules (no nodes or p = 0 removes them);
	// partition rules stay.
	Loss(ctx context.Context, ids []string, p float64) error
	// HealNetwork removes every partition and loss rule.
	HealNetwork(ctx context.Context) error
	// Close heals, resumes, and stops every node and removes what the backend
	// created (processes, rules, namespaces, containers, networks).
	Close(ctx context.Context) error
}

// Delayer is a Cluster that can delay packets.
type Delayer interface {
	// Delay holds every packet between every pair of the given nodes for
	// d, replacing any delay rules (no nodes or d = 0 removes them);
	// HealNetwork removes them too.
	Delay(ctx context.Context, ids []string, d time.Duration) error
}

// PowerCutter is a Cluster that can cut a node's power: the node is
// killed and every write it had not fsynced is lost, as in a power failure
// (a kill alone keeps them in the page cache). Start brings it back.
type PowerCutter interface {
	// PowerLoss kills the node and discards its unsynced writes; it
	// returns how many bytes were lost (whole pages).
	PowerLoss(ctx context.Context, id string) (lost int64, err error)
}

// NodeAdder is a Cluster that can start nodes beyond the ones it started
// with, for membership changes. Backends that cannot leave it out; the
// membership fault then refuses to run.
type NodeAdder interface {
	// AddNode starts one more node (the next id, n<K+1>) that joins the
	// running cluster by gossip, and waits until it is healthy. The node
	// enters the ring on its own (kvnode --ring-join); it may still be
	// joining when AddNode returns. Later calls of Nodes include it.
	AddNode(ctx context.Context) (Node, error)
}
