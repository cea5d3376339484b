// Package local runs a kvnode cluster as child processes of the harness. When
// the harness runs inside a private user+network namespace (see Reexec), every
// node gets its own loopback address and network faults are nftables rules in
// that namespace; no root is needed and nothing on the host is touched.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

const (
	// envNetNS holds the network namespace of the process that called
	// Reexec; a process whose namespace differs runs in the private one.
	envNetNS = "QUORUMLAB_NETNS"
	// envSetupFD names the pipe on which the re-executed child reports
	// whether it could set up its namespace.
	envSetupFD = "QUORUMLAB_NETNS_SETUP_FD"
	// envNoNetNS records why Reexec failed, for NetworkError.
	envNoNetNS = "QUORUMLAB_NETNS_ERROR"
	// envNoPrivateMounts records why the namespace's mounts could not be
	// made private, for power faults to refuse.
	envNoPrivateMounts = "QUORUMLAB_NO_PRIVATE_MOUNTS"

	setupOK = "ok"
	// setupFailedExit is the child's exit code when its namespace is unusable;
	// the pipe, not this code, is what tells the parent.
	setupFailedExit = 125
)

// ErrNoNamespace means Reexec could not create a usable user+network
// namespace; the caller may continue in-process, without network faults.
var ErrNoNamespace = errors.New("cannot create a private user+network namespace")

// InNamespace reports whether this process runs inside a namespace created by
// Reexec (directly or as a descendant).
func InNamespace() bool {
	parent := os.Getenv(envNetNS)
	if parent == "" {
		return false
	}
	cur, err := os.Readlink("/proc/self/ns/net")
	return err == nil && cur != parent
}

// Reexec runs the current program again, with the same arguments, inside a new
// network and mount namespace and, unless it runs as root already, a new user namespace
// in which the current uid and gid are mapped to root. It forwards SIGINT,
// SIGTERM and SIGHUP and the standard streams, and returns the child's exit
// code (128+n if signal n killed it). When ctx is done the child gets SIGTERM,
// and SIGKILL if it has not exited 30s later. The child dies with the parent.
//
// If the namespace cannot be created or set up, the error wraps
// ErrNoNamespace, and the reason is kept in the environment so that the
// NetworkError of a cluster started in-process can report it. Typical use,
// early in main (resolve the kvnode binary first: the namespace has no
// network for go to download modules):
//
//	if !local.InNamespace() {
//		code, err := local.Reexec(ctx)
//		if err == nil {
//			os.Exit(code)
//		} else if !errors.Is(err, local.ErrNoNamespace) {
//			return err
//		}
//		// carry on in-process, without network faults
//	}
func Reexec(ctx context.Context) (exitCode int, err error) {
	code, err := reexec(ctx)
	var nsErr namespaceError
	if errors.As(err, &nsErr) {
		os.Setenv(envNoNetNS, nsErr.reason.Error())
	}
	return code, err
}

// namespaceError is ErrNoNamespace with its reason.
type namespaceError struct{ reason error }

func (e namespaceError) Error() string   { return ErrNoNamespace.Error() + ": " + e.reason.Error() }
func (e namespaceError) Unwrap() []error { return []error{ErrNoNamespace, e.reason} }

func reexec(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	exe, err := os.Executable()
	if err != nil {
		return 0, namespaceError{fmt.Errorf("find own executable: %w", err)}
	}
	netns, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return 0, namespaceError{err}
	}
	report, reportW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("re-execute in a namespace: %w", err)
	}
	defer report.Close()

	// Subscribe before starting, so that no signal slips through in between.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	var cmd *exec.Cmd
	for _, userNS := range userNSChoices() {
		cmd = reexecCmd(exe, netns, reportW, userNS)
		if err = cmd.Start(); err == nil {
			break
		}
	}
	reportW.Close()
	if err != nil {
		return 0, namespaceError{explainCloneError(err)}
	}
	exited := make(chan struct{})
	defer close(exited)
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = cmd.Process.Signal(s)
			case <-exited:
				return
			}
		}
	}()

	// The child's init reports on fd 3 and closes it before main runs.
	msg, readErr := io.ReadAll(report)
	waitErr := cmd.Wait()
	switch status := string(msg); {
	case status == setupOK:
	case readErr != nil:
		return 0, fmt.Errorf("re-execute in a namespace: read setup report: %w", readErr)
	case status == "":
		return exitCode(cmd.ProcessState), fmt.Errorf(
			"re-executed %s exited before setting up its namespace: %v", exe, waitErr)
	default:
		return 0, namespaceError{errors.New(status)}
	}
	if cmd.ProcessState == nil {
		return 0, fmt.Errorf("wait for re-executed %s: %w", exe, waitErr)
	}
	return exitCode(cmd.ProcessState), nil
}

// reexecCmd is the command that re-executes exe in new namespaces.
func reexecCmd(exe, netns string, report *os.File, userNS bool) *exec.Cmd {
	// Not tied to ctx: a Ctrl-C reaches the child once, forwarded, and the
	// child decides what it means (an orderly stop; a second one, at once).
	// Cancelling it here as well would deliver a second signal with the
	// first and cut its teardown short.
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(withoutEnv(os.Environ(), envNetNS, envSetupFD, envNoNetNS),
		envNetNS+"="+netns, envSetupFD+"=3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{report} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// A mount namespace of its own too, for the power-loss file
		// systems: their mounts then vanish with the harness.
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS,
		// Its own process group, so that a terminal's Ctrl-C reaches the
		// child once, through us, rather than twice.
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL,
	}
	if userNS {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
		// Unprivileged users may only write gid_map with setgroups denied.
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
	}
	return cmd
}

// userNSChoices lists, in order of preference, whether to create a user
// namespace along with the network namespace. Real root needs none, and is
// better off without: root in a user namespace cannot write other users'
// files, such as a CI workspace owned by another uid.
func userNSChoices() []bool {
	if os.Geteuid() == 0 {
		return []bool{false, true} // the second for root without CAP_SYS_ADMIN
	}
	return []bool{true}
}

// explainCloneError adds the likely cause to the kernel's terse errors.
func explainCloneError(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%w (the user namespace limit, sysctl user.max_user_namespaces, is reached)", err)
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%w (unprivileged user namespaces are disabled here, by a sysctl such as "+
			"kernel.unprivileged_userns_clone or a container's seccomp policy)", err)
	case errors.Is(err, syscall.EINVAL):
		return fmt.Errorf("%w (the kernel lacks user or network namespaces)", err)
	}
	return err
}

// exitCode returns a shell-style exit code: 128+n for death by signal n.
func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return 0
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func withoutEnv(env []string, names ...string) []string {
	out := env[:0:0]
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// init completes Reexec in the child before main runs: a fresh network
// namespace has its loopback device down, and if it cannot be brought up the
// parent must learn it before this program does anything else.
func init() {
	fdStr, ok := os.LookupEnv(envSetupFD)
	if !ok {
		return
	}
	os.Unsetenv(envSetupFD) // our own children must not report again
	fd, err := strconv.Atoi(fdStr)
	if err != nil || !InNamespace() || !isPipe(fd) {
		return
	}
	report := os.NewFile(uintptr(fd), "namespace setup report")
	msg := setupOK
	setupErr := bringUpLoopback()
	if err := privateMounts(); err != nil {
		// Only power faults mount anything; they refuse to run without it.
		os.Setenv(envNoPrivateMounts, err.Error())
	}
	if setupErr != nil {
		msg = setupErr.Error()
	}
	_, _ = report.WriteString(msg)
	report.Close()
	if setupErr != nil {
		os.Exit(setupFailedExit)
	}
}

// privateMounts stops mounts made here from propagating to the parent's
// namespace (real root shares / with the host).
func privateMounts() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	return nil
}

func isPipe(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO
}

// bringUpLoopback sets lo up; the kernel then routes all of 127.0.0.0/8 to it,
// which gives every node an address of its own.
func bringUpLoopback() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring up lo: socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: get flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: set flags: %w", err)
	}
	return nil
}
