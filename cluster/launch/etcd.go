package launch

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/secrets"
)

// How backends run etcd members: Debian's etcd-server binary, one member
// per node, on the node's address (client port = the node's port, peer
// port = its peer port), the whole cluster founded at once.

// EtcdPackage is the Debian package that provides the etcd binary.
const EtcdPackage = "etcd-server"

// EtcdBinary finds etcd on $PATH.
func EtcdBinary() (string, error) {
	p, err := exec.LookPath("etcd")
	if err != nil {
		return "", fmt.Errorf("etcd not found on $PATH: install Debian's %s package (apt-get install %s)", EtcdPackage, EtcdPackage)
	}
	return filepath.Abs(p)
}

// EtcdArgs is member n's etcd command line (without the binary); members
// are the whole cluster, n included; secretsDir, if not empty, is the
// directory of n's TLS files (see SecretArgs).
func EtcdArgs(n cluster.Node, members []cluster.Node, dataDir, secretsDir string) []string {
	scheme := "http://"
	if secretsDir != "" {
		scheme = "https://"
	}
	initial := make([]string, len(members))
	for i, m := range members {
		initial[i] = m.ID + "=" + scheme + m.PeerAddr
	}
	args := []string{
		"--name", n.ID, "--data-dir", dataDir,
		"--listen-client-urls", scheme + n.Addr, "--advertise-client-urls", scheme + n.Addr,
		"--listen-peer-urls", scheme + n.PeerAddr, "--initial-advertise-peer-urls", scheme + n.PeerAddr,
		"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
		"--initial-cluster-token", "quorumlab",
		"--logger", "zap", "--log-outputs", "stderr", "--log-level", "warn",
	}
	if secretsDir != "" {
		p := secrets.In(secretsDir)
		cert, key, ca := p.Cert, p.Key, p.CA
		args = append(args,
			"--cert-file", cert, "--key-file", key, "--trusted-ca-file", ca, "--client-cert-auth",
			"--peer-cert-file", cert, "--peer-key-file", key, "--peer-trusted-ca-file", ca, "--peer-client-cert-auth")
	}
	return args
}

// libDirs are where a dynamically linked binary's libraries are looked
// for, as Debian's loader does.
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/lib", "/usr/lib"}

// SharedObjects lists what the ELF binary at bin loads: its interpreter
// and every library it needs, transitively, as absolute paths. A FROM
// scratch image runs a dynamically linked binary with these beside it.
func SharedObjects(bin string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	var visit func(path string, interp bool) error
	visit = func(path string, interp bool) error {
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			return err
		}
		if seen[path] {
			return nil
		}
		seen[path] = true
		if path != bin {
			out = append(out, path) // the name the loader looks for; its content is real's
		}
		f, err := elf.Open(real)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP && !interp {
				b := make([]byte, p.Filesz)
				if _, err := p.ReadAt(b, 0); err != nil {
					return fmt.Errorf("%s: interpreter: %w", path, err)
				}
				if err := visit(strings.TrimRight(string(b), "\x00"), true); err != nil {
					return err
				}
			}
		}
		libs, err := f.ImportedLibraries()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, lib := range libs {
			found := ""
			for _, d := range libDirs {
				if _, err := os.Stat(filepath.Join(d, lib)); err == nil {
					found = filepath.Join(d, lib)
					break
				}
			}
			if found == "" {
				return fmt.Errorf("%s needs %s, found in none of %s", path, lib, strings.Join(libDirs, ", "))
			}
			if err := visit(found, false); err != nil {
				return err
			}
		}
		return nil
	}
	if err := visit(bin, false); err != nil {
		return nil, errors.Join(fmt.Errorf("libraries of %s", bin), err)
	}
	return out, nil
}
