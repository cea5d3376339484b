package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// envTestHelper turns the test binary into a helper process for
// TestReexecExitCode: outside a namespace it calls Reexec, inside it acts.
const envTestHelper = "QUORUMLAB_TEST_HELPER"

// TestMain runs the tests inside a private user+network namespace, as the
// harness runs itself, so that they can bind 127.0.0.x and use nftables.
func TestMain(m *testing.M) {
	if h := os.Getenv(envTestHelper); h != "" {
		os.Exit(helper(h))
	}
	if os.Getenv(envFakeKVNode) != "" {
		os.Exit(fakeKVNode(os.Args[1:]))
	}
	if !InNamespace() {
		code, err := Reexec(context.Background())
		if err == nil {
			os.Exit(code)
		}
		if !errors.Is(err, ErrNoNamespace) {
			fmt.Fprintln(os.Stderr, "re-executing the tests in a namespace:", err)
			os.Exit(3)
		}
		fmt.Fprintln(os.Stderr, "running the tests without a private namespace:", err)
	}
	os.Exit(m.Run())
}

// helper implements the helper modes: exit:<code>, kill (SIGKILL itself) and
// signal (wait for SIGTERM, then exit 42).
func helper(mode string) int {
	if !InNamespace() {
		code, err := Reexec(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper: Reexec:", err)
			return 99
		}
		return code
	}
	switch {
	case strings.HasPrefix(mode, "exit:"):
		code, err := strconv.Atoi(strings.TrimPrefix(mode, "exit:"))
		if err != nil {
			return 98
		}
		return code
	case mode == "kill":
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	case mode == "signal":
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		fmt.Println("ready")
		<-sigs
		return 42
	}
	return 97
}

// requireNamespace skips a test that needs the private namespace when there
// is none, except in CI, where that is a failure.
func requireNamespace(t *testing.T) {
	t.Helper()
	if InNamespace() {
		return
	}
	msg := "needs a private user+network namespace: " + noNamespaceReason()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// nodeOf is c's node id, which must exist.
func nodeOf(t *testing.T, c *Cluster, id string) *node {
	t.Helper()
	n, err := c.nodes.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
