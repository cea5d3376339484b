package local

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// helperCmd runs this test binary as a helper that sees itself outside any
// namespace of ours, so that it calls Reexec.
func helperCmd(ctx context.Context, mode string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(withoutEnv(os.Environ(), envNetNS, envSetupFD, envNoNetNS), envTestHelper+"="+mode)
	return cmd
}

func TestReexecExitCode(t *testing.T) {
	requireNamespace(t) // a namespace inside ours must work if ours did
	tests := []struct {
		mode string
		want int
	}{
		{"exit:0", 0},
		{"exit:7", 7},
		{"exit:125", 125}, // the code a failed setup uses: must not be mistaken
		{"kill", 128 + int(syscall.SIGKILL)},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			out, err := helperCmd(ctx, tt.mode).CombinedOutput()
			got := 0
			if ee, ok := err.(*exec.ExitError); ok {
				got = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("helper: %v\n%s", err, out)
			}
			if got != tt.want {
				t.Errorf("exit code = %d, want %d; output:\n%s", got, tt.want, out)
			}
		})
	}
}

func TestReexecForwardsSIGTERM(t *testing.T) {
	requireNamespace(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := helperCmd(ctx, "signal")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("helper said %q, %v; want ready", line, err)
	}
	// The re-executed child is in its own process group: only forwarding
	// can reach it.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 42 {
		t.Fatalf("helper exit: %v, want exit status 42", err)
	}
}

func TestInNamespace(t *testing.T) {
	requireNamespace(t)
	ns, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, marker string
		want         bool
	}{
		{"no marker", "", false},
		{"marker of this namespace", ns, false},
		{"marker of another namespace", "net:[1]", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envNetNS, tt.marker)
			if got := InNamespace(); got != tt.want {
				t.Errorf("InNamespace() = %v, want %v", got, tt.want)
			}
		})
	}
}
