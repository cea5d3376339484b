package target_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/launch"
	"github.com/quorumlab/quorumlab/target"
)

// BenchmarkLoad is one closed-loop load tool with two drivers, kvnode and
// etcd, on 3-member clusters of separate processes on loopback with fsync
// on: kvnode N3 W2 R2 in each mode it is asked for, etcd's Raft. Every
// client puts or gets 100-byte values on 10k keys for the bench time.
//
//	go test ./target -run '^$' -bench Load -benchtime 15s -count 2
//
// -count 2 interleaves the stores round by round. LOAD_STORES (default
// etcd,kvnode-lww,kvnode-linearizable), LOAD_CLIENTS (default 1,32,128) and
// LOAD_OPS (default put,get) narrow it; LOAD_SHARED=1 makes the clients of
// one member share one connection, as the harness's clients do. Each
// result reports ops/s and the p50 and p99 latency in ms. With
// LOAD_PPROF=1 (and -v) each kvnode serves its profiler and says where.
func BenchmarkLoad(b *testing.B) {
	for _, store := range envList("LOAD_STORES", "etcd,kvnode-lww,kvnode-linearizable") {
		b.Run(store, func(b *testing.B) {
			addrs, pids := startStore(b, store)
			for _, op := range envList("LOAD_OPS", "put,get") {
				for _, c := range envList("LOAD_CLIENTS", "1,32,128") {
					clients, err := strconv.Atoi(c)
					if err != nil {
						b.Fatalf("LOAD_CLIENTS: %v", err)
					}
					b.Run(fmt.Sprintf("%s/clients=%d", op, clients), func(b *testing.B) {
						load(b, store, addrs, pids, op, clients, os.Getenv("LOAD_SHARED") == "1")
					})
				}
			}
		})
	}
}

const (
	loadKeys       = 10000
	loadValueBytes = 100
)

func envList(name, def string) []string {
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	return strings.Split(v, ",")
}

// load runs b.N operations over clients closed-loop clients.
func load(b *testing.B, store string, addrs []string, pids []int, op string, clients int, shared bool) {
	name := target.Etcd
	if strings.HasPrefix(store, "kvnode") {
		name = target.KVNode
	}
	dial := func(i int) target.Client {
		c, err := target.Dial(name, addrs[i%len(addrs)], target.Options{Timeout: 10 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	conns := make([]target.Client, clients)
	for i := range conns {
		if shared && i >= len(addrs) {
			conns[i] = conns[i%len(addrs)]
			continue
		}
		conns[i] = dial(i)
	}
	defer func() {
		for i, c := range conns {
			if !shared || i < len(addrs) {
				c.Close()
			}
		}
	}()
	ctx := context.Background()
	value := bytes.Repeat([]byte{'v'}, loadValueBytes)
	if op == "get" {
		// Every key exists before it is read.
		var wg sync.WaitGroup
		for g := range clients {
			wg.Go(func() {
				for k := g; k < loadKeys; k += clients {
					if err := conns[g].Put(ctx, loadKey(k), value, nil); err != nil {
						b.Errorf("preload: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	var next, failed atomic.Int64
	var lastErr atomic.Pointer[error]
	hists := make([]*hdrhistogram.Histogram, clients)
	b.ResetTimer()
	nodeCPU, selfCPU := processCPU(b, pids...), selfTime()
	start := time.Now()
	var wg sync.WaitGroup
	for g := range clients {
		hists[g] = hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for next.Add(1) <= int64(b.N) {
				key := loadKey(rng.IntN(loadKeys))
				t := time.Now()
				var err error
				if op == "get" {
					_, err = conns[g].Get(ctx, key)
				} else {
					err = conns[g].Put(ctx, key, value, nil)
				}
				if err != nil {
					failed.Add(1)
					lastErr.Store(&err)
					continue
				}
				hists[g].RecordValue(time.Since(t).Microseconds())
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	nodeCPU, selfCPU = processCPU(b, pids...)-nodeCPU, selfTime()-selfCPU
	b.StopTimer()
	all := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	for _, h := range hists {
		all.Merge(h)
	}
	if f := failed.Load(); f > int64(b.N)/100 {
		b.Fatalf("%d of %d operations failed (the last: %v)", f, b.N, *lastErr.Load())
	}
	b.ReportMetric(float64(all.TotalCount())/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(all.ValueAtQuantile(50))/1000, "p50-ms")
	b.ReportMetric(float64(all.ValueAtQuantile(99))/1000, "p99-ms")
	ops := float64(all.TotalCount())
	b.ReportMetric(nodeCPU.Seconds()*1e6/ops, "node-cpu-µs/op")
	b.ReportMetric(selfCPU.Seconds()*1e6/ops, "client-cpu-µs/op")
	b.ReportMetric(0, "ns/op") // closed-loop over many clients: ops/s says it
}

func loadKey(i int) string { return fmt.Sprintf("key-%05d", i) }

// startStore starts a 3-member cluster of store and returns its client
// addresses; the processes are stopped at the end of b.
func startStore(b *testing.B, store string) (addrs []string, pids []int) {
	b.Helper()
	ctx := context.Background()
	var bin string
	var err error
	if store == target.Etcd {
		bin, err = launch.EtcdBinary()
	} else {
		bin, err = launch.KVNodeBinary(ctx, "", false)
	}
	if err != nil {
		b.Skip(err)
	}
	nodes := make([]cluster.Node, 3)
	var peers []string
	for i := range nodes {
		id := fmt.Sprintf("n%d", i+1)
		nodes[i] = cluster.Node{ID: id, Addr: freeAddr(b), PeerAddr: freeAddr(b)}
		peers = append(peers, id+"="+nodes[i].PeerAddr)
	}
	dir := b.TempDir()
	for _, n := range nodes {
		data := filepath.Join(dir, n.ID)
		var args []string
		if store == target.Etcd {
			args = launch.EtcdArgs(n, nodes, data, "")
		} else {
			cfg := cluster.Config{N: 3, W: 2, R: 2, Fsync: true, Mode: strings.TrimPrefix(store, "kvnode-")}
			args = launch.ServeArgs(cfg, n, data, strings.Join(peers, ","))
			// The members share one IP here: a metrics listener each, and
			// the profiler on it with LOAD_PPROF=1.
			args = dropFlag(args, "--metrics-listen")
			if os.Getenv("LOAD_PPROF") == "1" {
				m := freeAddr(b)
				args = append(args, "--metrics-listen", m, "--pprof")
				b.Logf("%s: go tool pprof http://%s/debug/pprof/profile?seconds=10", n.ID, m)
			}
		}
		cmd := exec.Command(bin, args...)
		log, err := os.Create(data + ".log")
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
			log.Close()
		})
		addrs, pids = append(addrs, n.Addr), append(pids, cmd.Process.Pid)
	}
	for _, a := range addrs {
		if err := launch.CheckHealth(ctx, a, nil, 30*time.Second); err != nil {
			b.Fatalf("%s: %v (logs in %s)", store, err, dir)
		}
	}
	// Serving is not yet connected to the peers: wait until every member
	// takes a write.
	name := target.Etcd
	if store != target.Etcd {
		name = target.KVNode
	}
	for _, a := range addrs {
		c, err := target.Dial(name, a, target.Options{Timeout: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			err := c.Put(ctx, "warm-up", []byte("v"), nil)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s at %s takes no write: %v", store, a, err)
			}
		}
		c.Close()
	}
	return addrs, pids
}

// processCPU is the user and system time the processes used so far.
func processCPU(b *testing.B, pids ...int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			b.Fatal(err)
		}
		// Fields after the command name, which is in parentheses: utime
		// and stime are the 12th and 13th, in clock ticks (100 a second).
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		for _, v := range f[11:13] {
			t, _ := strconv.ParseInt(v, 10, 64)
			total += time.Duration(t) * 10 * time.Millisecond
		}
	}
	return total
}

// selfTime is this process's user and system time so far: the load
// generator's.
func selfTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// dropFlag drops flag and its value from args.
func dropFlag(args []string, flag string) []string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return append(args[:i:i], args[i+2:]...)
		}
	}
	return args
}

func freeAddr(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
