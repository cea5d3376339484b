package launch

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
	return findBinary(ctx, "kvnode", cfgPath, static)
}

// NetfaultBinary returns a static netfault binary, found as KVNodeBinary
// finds kvnode: the docker backend ships it into node images to change a
// container's nftables, so that kvnode itself carries no harness code.
func NetfaultBinary(ctx context.Context) (string, error) {
	return findBinary(ctx, "netfault", "", true)
}

// findBinary finds or builds the program of this module's cmd/<name>.
func findBinary(ctx context.Context, name, cfgPath string, static bool) (string, error) {
	if cfgPath != "" {
		p, err := filepath.Abs(cfgPath)
		if err != nil {
			return "", fmt.Errorf("%s binary %q: %w", name, cfgPath, err)
		}
		if err := checkBinary(p, static); err != nil {
			return "", fmt.Errorf("%s binary: %w", name, err)
		}
		return p, nil
	}

	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find %s: working directory: %w", name, err)
	}
	if root, ok := moduleRoot(wd); ok {
		// A build failure is reported rather than falling back: an installed
		// binary could be older than the source the user is working on.
		if goBin, err := exec.LookPath("go"); err == nil {
			return build(ctx, goBin, root, name, static)
		}
	}

	var candidates, tried []string
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), name))
	}
	if p, err := exec.LookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		candidates = append(candidates, p)
	} else {
		tried = append(tried, "no "+name+" in PATH")
	}
	for _, p := range candidates {
		err := checkBinary(p, static)
		if err == nil {
			return p, nil
		}
		tried = append(tried, err.Error())
	}
	return "", fmt.Errorf("no %s binary found (%s): pass the path of one, "+
		"run from the quorumlab source tree with go installed so it is built, "+
		"or install it with `go install %s/cmd/%s@latest`",
		name, strings.Join(tried, "; "), modulePath, name)
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

// build builds ./cmd/<name> of the module at root into the user cache.
func build(ctx context.Context, goBin, root, name string, static bool) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "quorumlab")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build %s: %w", name, err)
	}
	// One binary per source tree and flavour, so checkouts don't overwrite
	// each other's; go skips relinking when the binary is up to date.
	sum := sha256.Sum256([]byte(root))
	file := name + "-" + hex.EncodeToString(sum[:6])
	if static {
		file += "-static"
	}
	out := filepath.Join(dir, file)

	// Concurrent harness runs must not write the same file at once.
	lock, err := os.OpenFile(out+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", name, err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("build %s: lock %s: %w", name, lock.Name(), err)
	}

	pkg := "./cmd/" + name
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = os.Environ()
	if static {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s (go build %s in %s): %w\n%s",
			name, pkg, root, err, bytes.TrimSpace(output))
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
