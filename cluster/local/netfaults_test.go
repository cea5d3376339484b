package local

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/quorumlab/quorumlab/cluster"
)

var testIPs = map[string]netip.Addr{
	"n1": netip.MustParseAddr("127.0.0.11"),
	"n2": netip.MustParseAddr("127.0.0.12"),
	"n3": netip.MustParseAddr("127.0.0.13"),
}

// clientIP is where the harness's clients connect from.
var clientIP = netip.MustParseAddr("127.0.0.1")

func newTestNetfaults(t *testing.T) *netfaults {
	t.Helper()
	requireNamespace(t)
	f, err := newNetfaults(testIPs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

func TestNetfaultsTCP(t *testing.T) {
	f := newTestNetfaults(t)
	n1, n2 := testIPs["n1"], testIPs["n2"]
	for _, ip := range []netip.Addr{n1, n2} {
		echoServer(t, netip.AddrPortFrom(ip, nodePort))
	}
	dst := netip.AddrPortFrom(n2, nodePort).String()

	// A connection made before the partition must hang, not fail.
	established := dialFrom(t, n1, dst)
	defer established.Close()

	if err := f.setPartition(cluster.Grudge{"n2": {"n1"}, "n1": {"n2"}}); err != nil {
		t.Fatal(err)
	}
	if err := tryDial(n1, dst); !isTimeout(err) {
		t.Errorf("dial n1→n2 while partitioned: %v, want a timeout", err)
	}
	if err := tryDial(clientIP, dst); err != nil {
		t.Errorf("dial client→n2 while partitioned: %v, want success", err)
	}
	if err := echo(established); !isTimeout(err) {
		t.Errorf("echo on an established n1→n2 connection while partitioned: %v, want a timeout", err)
	}

	if err := f.heal(); err != nil {
		t.Fatal(err)
	}
	if err := tryDial(n1, dst); err != nil {
		t.Errorf("dial n1→n2 after healing: %v", err)
	}
}

func TestNetfaultsReachability(t *testing.T) {
	f := newTestNetfaults(t)
	tests := []struct {
		name    string
		apply   func(*netfaults) error
		blocked []string // "src>dst"; every other pair must get through
	}{
		{"healed", func(*netfaults) error { return nil }, nil},
		{
			"isolate n1",
			func(f *netfaults) error {
				return f.setPartition(cluster.Grudge{"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}})
			},
			[]string{"n1>n2", "n1>n3", "n2>n1", "n3>n1"},
		},
		{
			"asymmetric",
			func(f *netfaults) error { return f.setPartition(cluster.Grudge{"n2": {"n1"}}) },
			[]string{"n1>n2"},
		},
		{
			"partition replaces partition",
			func(f *netfaults) error {
				if err := f.setPartition(cluster.Grudge{"n2": {"n1"}}); err != nil {
					return err
				}
				return f.setPartition(cluster.Grudge{"n3": {"n2"}})
			},
			[]string{"n2>n3"},
		},
		{
			"loss 1",
			func(f *netfaults) error { return f.setLoss([]string{"n1", "n2"}, 1) },
			[]string{"n1>n2", "n2>n1"},
		},
		{
			"loss 0",
			func(f *netfaults) error { return f.setLoss([]string{"n1", "n2", "n3"}, 0) },
			nil,
		},
		{
			"loss and partition coexist",
			func(f *netfaults) error {
				if err := f.setLoss([]string{"n1", "n2"}, 1); err != nil {
					return err
				}
				if err := f.setPartition(cluster.Grudge{"n1": {"n3"}, "n3": {"n1"}}); err != nil {
					return err
				}
				// Replacing the partition must keep the loss rules.
				return f.setPartition(cluster.Grudge{"n3": {"n1"}})
			},
			[]string{"n1>n2", "n2>n1", "n1>n3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := f.heal(); err != nil {
				t.Fatal(err)
			}
			if err := tt.apply(f); err != nil {
				t.Fatal(err)
			}
			for src, srcIP := range testIPs {
				for dst, dstIP := range testIPs {
					if src == dst {
						continue
					}
					want := !slices.Contains(tt.blocked, src+">"+dst)
					if got := udpReaches(t, srcIP, dstIP); got != want {
						t.Errorf("%s→%s gets through: %v, want %v", src, dst, got, want)
					}
				}
				if !udpReaches(t, clientIP, srcIP) {
					t.Errorf("client→%s is blocked", src)
				}
			}
		})
	}
}

func TestNetfaultsLossShare(t *testing.T) {
	f := newTestNetfaults(t)
	if err := f.setLoss([]string{"n1", "n2"}, 0.5); err != nil {
		t.Fatal(err)
	}
	const sent = 1000
	got := udpDelivered(t, testIPs["n1"], testIPs["n2"], sent)
	// Binomial(1000, 0.5) has σ≈16: this is a > 6σ band.
	if got < 400 || got > 600 {
		t.Errorf("with 50%% loss %d of %d datagrams arrived", got, sent)
	}
}

func TestNetfaultsErrors(t *testing.T) {
	f := newTestNetfaults(t)
	tests := []struct {
		name  string
		apply func() error
	}{
		{"unknown dst", func() error { return f.setPartition(cluster.Grudge{"n9": {"n1"}}) }},
		{"unknown src", func() error { return f.setPartition(cluster.Grudge{"n1": {"n9"}}) }},
		{"unknown loss node", func() error { return f.setLoss([]string{"n1", "n9"}, 0.1) }},
		{"loss above 1", func() error { return f.setLoss([]string{"n1", "n2"}, 1.5) }},
		{"negative loss", func() error { return f.setLoss([]string{"n1", "n2"}, -0.1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.apply(); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestNetfaultsClose(t *testing.T) {
	requireNamespace(t)
	f, err := newNetfaults(testIPs)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.setPartition(cluster.Grudge{"n1": {"n2"}}); err != nil {
		t.Fatal(err)
	}
	if !hasTable(t) {
		t.Fatalf("table inet %s missing while open", nftTable)
	}
	for i := range 2 { // idempotent
		if err := f.close(); err != nil {
			t.Fatalf("close #%d: %v", i+1, err)
		}
	}
	if hasTable(t) {
		t.Errorf("table inet %s still there after close", nftTable)
	}
	if err := f.heal(); err == nil {
		t.Error("heal after close: no error")
	}
	if !udpReaches(t, testIPs["n2"], testIPs["n1"]) {
		t.Error("n2→n1 blocked after close")
	}
}

func hasTable(t *testing.T) bool {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTables()
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(tables, func(tb *nftables.Table) bool {
		return tb.Name == nftTable && tb.Family == nftables.TableFamilyINet
	})
}

// echoServer listens on addr and echoes every connection until the test ends.
func echoServer(t *testing.T, addr netip.AddrPort) {
	t.Helper()
	l, err := net.Listen("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go io.Copy(c, c)
		}
	}()
}

func dialer(src netip.Addr) *net.Dialer {
	return &net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
}

func dialFrom(t *testing.T, src netip.Addr, dst string) net.Conn {
	t.Helper()
	c, err := dialer(src).Dial("tcp", dst)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", dst, src, err)
	}
	return c
}

func tryDial(src netip.Addr, dst string) error {
	c, err := dialer(src).Dial("tcp", dst)
	if err != nil {
		return err
	}
	return c.Close()
}

// echo sends a byte and waits a second for it to come back.
func echo(c net.Conn) error {
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte{1}); err != nil {
		return err
	}
	_, err := c.Read(make([]byte, 1))
	return err
}

// isTimeout tells a hang (dropped packets) from a refusal.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, syscall.ECONNREFUSED)
}

// udpReaches reports whether a datagram from src reaches dst.
func udpReaches(t *testing.T, src, dst netip.Addr) bool {
	t.Helper()
	return udpDelivered(t, src, dst, 1) == 1
}

// udpDelivered sends n datagrams from src to dst and counts those that
// arrive. It sends in small batches and drains in between, so that socket
// buffers never drop anything.
func udpDelivered(t *testing.T, src, dst netip.Addr, n int) int {
	t.Helper()
	rx, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), rx.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()

	const batch = 50
	got, buf := 0, make([]byte, 64)
	for sent := 0; sent < n; {
		end := min(sent+batch, n)
		for ; sent < end; sent++ {
			if _, err := fmt.Fprintf(tx, "%d", sent); err != nil {
				t.Fatal(err)
			}
		}
		// Loopback delivers at once: the deadline only ends the wait for
		// datagrams that were dropped.
		for got < sent {
			rx.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			_, from, err := rx.ReadFromUDPAddrPort(buf)
			if err != nil {
				break
			}
			if from.Addr() == src {
				got++
			}
		}
	}
	return got
}
