package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// modulePath is this module's path: a go.mod naming it marks our source tree.
const modulePath = "github.com/quorumlab/quorumlab"

// KVNodeBinary returns the path of a kvnode binary, in this order: cfgPath if
// set; a fresh `go build ./cmd/kvnode` when the working directory is inside
// this module's source tree (into os.UserCacheDir()/quorumlab; go's build
// cache makes this fast, and the binary is never stale); a kvnode next to the
// running executable; kvnode in PATH. static asks for a binary without cgo
// (CGO_ENABLED=0), for FROM-scratch images.
//
// A harness using local.Reexec should call it before, too: the private
// namespace has no network for go to download missing modules.
func KVNodeBinary(ctx context.Context, cfgPath string, static bool) (string, error) {
	if cfgPath != "" {
		p, err := filepath.Abs(cfgPath)
		if err != nil {
			return "", fmt.Errorf("kvnode binary %q: %w", cfgPath, err)
		}
		if err := checkBinary(p, static); err != nil {
			return "", fmt.Errorf("kvnode binary: %w", err)
		}
		return p, nil
	}

	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find kvnode: working directory: %w", err)
	}
	if root, ok := moduleRoot(wd); ok {
		// A build failure is reported rather than falling back: an installed
		// kvnode could be older than the source the user is working on.
		if goBin, err := exec.LookPath("go"); err == nil {
			return buildKVNode(ctx, goBin, root, static)
		}
	}

	var candidates, tried []string
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), "kvnode"))
	}
	if p, err := exec.LookPath("kvnode"); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		candidates = append(candidates, p)
	} else {
		tried = append(tried, "no kvnode in PATH")
	}
	for _, p := range candidates {
		err := checkBinary(p, static)
		if err == nil {
			return p, nil
		}
		tried = append(tried, err.Error())
	}
	return "", fmt.Errorf("no kvnode binary found (%s): pass the path of one, "+
		"run from the quorumlab source tree with go installed so it is built, "+
		"or install it with `go install %s/cmd/kvnode@latest`",
		strings.Join(tried, "; "), modulePath)
}

// moduleRoot walks up from dir to the nearest go.mod and reports whether it is
// this module's.
func moduleRoot(dir string) (string, bool) {
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			return dir, goModPath(data) == modulePath
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// goModPath returns the module path declared in a go.mod file.
func goModPath(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "module")
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		rest = strings.TrimSpace(rest)
		if i := strings.Index(rest, "//"); i >= 0 {
			rest = strings.TrimSpace(rest[:i])
		}
		return strings.Trim(rest, `"`)
	}
	return ""
}

// buildKVNode builds ./cmd/kvnode of the module at root into the user cache.
func buildKVNode(ctx context.Context, goBin, root string, static bool) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "quorumlab")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build kvnode: %w", err)
	}
	// One binary per source tree and flavour, so checkouts don't overwrite
	// each other's; go skips relinking when the binary is up to date.
	sum := sha256.Sum256([]byte(root))
	name := "kvnode-" + hex.EncodeToString(sum[:6])
	if static {
		name += "-static"
	}
	out := filepath.Join(dir, name)

	// Concurrent harness runs must not write the same file at once.
	lock, err := os.OpenFile(out+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("build kvnode: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("build kvnode: lock %s: %w", lock.Name(), err)
	}

	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "./cmd/kvnode")
	cmd.Dir = root
	cmd.Env = os.Environ()
	if static {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build kvnode (go build ./cmd/kvnode in %s): %w\n%s",
			root, err, bytes.TrimSpace(output))
	}
	return out, nil
}

// checkBinary reports why p is not a usable kvnode binary, if it is not.
func checkBinary(p string, static bool) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	if static {
		dynamic, err := isDynamic(p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if dynamic {
			return fmt.Errorf("%s is dynamically linked; a static build (CGO_ENABLED=0) is needed", p)
		}
	}
	return nil
}

// isDynamic reports whether the ELF file at p needs a dynamic loader.
func isDynamic(p string) (bool, error) {
	f, err := elf.Open(p)
	if err != nil {
		return false, fmt.Errorf("not an ELF binary: %w", err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return true, nil
		}
	}
	return false, nil
}
