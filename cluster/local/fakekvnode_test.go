package local

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// envFakeKVNode makes the test binary act as a stand-in for `kvnode serve`,
// so that process management is tested without the real node.
const envFakeKVNode = "QUORUMLAB_TEST_FAKE_KVNODE"

// fakeKVNode serves the gRPC health service on --listen until SIGTERM,
// recording each start in --data-dir. With --fail-on <id> that node exits
// at once, as a broken node would; --ignore-sigterm <any> makes it hang on.
func fakeKVNode(args []string) int {
	flags := map[string]string{}
	for i := 0; i+1 < len(args); i++ {
		flags[args[i]] = args[i+1]
	}
	id := flags["--id"]
	if args[0] != "serve" || id == "" || flags["--listen"] == "" || flags["--data-dir"] == "" {
		fmt.Fprintf(os.Stderr, "fake kvnode: bad command line %q\n", args)
		return 2
	}
	if flags["--fail-on"] == id {
		fmt.Fprintf(os.Stderr, "fake kvnode %s: failing on purpose\n", id)
		return 1
	}
	starts, err := os.OpenFile(filepath.Join(flags["--data-dir"], "starts"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake kvnode:", err)
		return 1
	}
	fmt.Fprintln(starts, os.Getpid())
	starts.Close()

	l, err := net.Listen("tcp", flags["--listen"])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake kvnode:", err)
		return 1
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	sigs := make(chan os.Signal, 1)
	if flags["--ignore-sigterm"] != "" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(sigs, syscall.SIGTERM)
	}
	go func() {
		<-sigs
		fmt.Fprintf(os.Stderr, "fake kvnode %s: SIGTERM\n", id)
		srv.GracefulStop()
	}()
	fmt.Fprintf(os.Stderr, "fake kvnode %s: serving on %s\n", id, l.Addr())
	if err := srv.Serve(l); err != nil {
		fmt.Fprintln(os.Stderr, "fake kvnode:", err)
		return 1
	}
	return 0
}
