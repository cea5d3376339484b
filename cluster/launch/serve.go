// Package launch is what the backends share about running a node: finding
// or building the binaries, each node's command line, the run's directory,
// health checks and log tails. The harness needs none of it but the
// binaries.
package launch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/secrets"
)

// ServeArgs is the `kvnode serve` command line of node n. Zero settings other
// than Fsync are left out so that kvnode's defaults apply.
func ServeArgs(cfg cluster.Config, n cluster.Node, dataDir, peers string) []string {
	args := []string{"serve", "--id", n.ID, "--listen", n.Addr, "--data-dir", dataDir, "--peers", peers}
	if n.PeerAddr != "" {
		args = append(args, "--peer-listen", n.PeerAddr)
	}
	for _, f := range []struct {
		name string
		val  int
	}{{"--n", cfg.N}, {"--w", cfg.W}, {"--r", cfg.R}} {
		if f.val != 0 {
			args = append(args, f.name, strconv.Itoa(f.val))
		}
	}
	if cfg.Mode != "" {
		args = append(args, "--mode", cfg.Mode)
	}
	if cfg.VNodes != 0 {
		args = append(args, "--vnodes", strconv.Itoa(cfg.VNodes))
	}
	// Always passed: false is a setting here, not "unset" (kvnode's default
	// is true, so omitting it would turn a requested fsync=false into true).
	args = append(args, "--fsync="+strconv.FormatBool(cfg.Fsync))
	if cfg.ReadRepair != "" {
		args = append(args, "--read-repair", cfg.ReadRepair)
	}
	if cfg.RequestTimeout != 0 {
		args = append(args, "--request-timeout", cfg.RequestTimeout.String())
	}
	if cfg.Sloppy {
		args = append(args, "--sloppy")
	}
	if cfg.TombstoneGrace != 0 {
		args = append(args, "--tombstone-grace", cfg.TombstoneGrace.String())
	}
	if host, _, err := net.SplitHostPort(n.Addr); err == nil {
		args = append(args, "--metrics-listen", net.JoinHostPort(host, cluster.MetricsPort))
	}
	return append(args, cfg.ExtraArgs...)
}

// NodesDir checks a backend's node count and run directory, makes the
// run's nodes/ directory and returns the run directory, absolute.
func NodesDir(cfg cluster.Config, maxNodes int) (string, error) {
	if cfg.Nodes < 1 || cfg.Nodes > maxNodes {
		return "", fmt.Errorf("%d nodes: need 1 to %d", cfg.Nodes, maxNodes)
	}
	if cfg.Dir == "" {
		return "", errors.New("no run directory (Config.Dir)")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "nodes"), 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// SecretArgs are the `kvnode serve` flags that name a node's secret files
// (secrets.Secrets.NodeFiles) written into dir.
func SecretArgs(dir string) []string {
	p := secrets.In(dir)
	return []string{"--tls-cert", p.Cert, "--tls-key", p.Key, "--tls-ca", p.CA, "--gossip-key-file", p.Gossip}
}

// Redacted hides the admin token of a command line: logs end up in shared
// reports.
func Redacted(args []string) []string {
	out := slices.Clone(args)
	for i := 1; i < len(out); i++ {
		if out[i-1] == "--admin-token" {
			out[i] = "<redacted>"
		}
	}
	return out
}

// CheckHealth asks addr's gRPC health service for the overall status and
// returns nil if it is SERVING. tlsConf nil is plaintext.
func CheckHealth(ctx context.Context, addr string, tlsConf *tls.Config, timeout time.Duration) error {
	creds := insecure.NewCredentials()
	if tlsConf != nil {
		creds = credentials.NewTLS(tlsConf)
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(creds),
		// Nodes come up within a moment: retry connecting at that pace.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 200 * time.Millisecond},
			MinConnectTimeout: timeout,
		}))
	if err != nil {
		return fmt.Errorf("health check %s: %w", addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil {
		return fmt.Errorf("health check %s: %w", addr, err)
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health check %s: status %v", addr, s)
	}
	return nil
}

// logTailBytes is how much of a node's log LogTail reads.
const logTailBytes = 4 << 10

// LogTail returns the last lines of a log file, indented, for error messages.
func LogTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > logTailBytes {
		if _, err := f.Seek(-logTailBytes, io.SeekEnd); err != nil {
			return "(" + err.Error() + ")"
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return Tail(string(data), 20)
}

// Tail returns the last n lines of text, indented.
func Tail(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
