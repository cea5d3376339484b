package local

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/netfault"
)

// nftTable is the nftables table (family inet) that holds the fault rules.
const nftTable = netfault.TableName

// netfaults owns the nftables table `inet quorumlab` of the current network
// namespace, where every node lives; rules match source and destination.
// Partition and loss rules are kept apart so that each can be replaced
// without touching the other.
type netfaults struct {
	ipsMu sync.RWMutex          // AddNode adds to ips
	ips   map[string]netip.Addr // node id → IPv4 address

	mu     sync.Mutex // serializes rule changes and guards the fields below
	rules  netfault.Rules
	closed bool
	delay  *delayer // started by the first delay
}

func newNetfaults(ips map[string]netip.Addr) (*netfaults, error) {
	for id, ip := range ips {
		if !ip.Is4() {
			return nil, fmt.Errorf("network faults: node %s: %v is not an IPv4 address", id, ip)
		}
	}
	// Starts from an empty table whether or not an earlier run left one.
	if err := netfault.Apply(netfault.Rules{}); err != nil {
		return nil, fmt.Errorf("network faults: %w", err)
	}
	return &netfaults{ips: ips}, nil
}

// setPartition replaces the partition rules: packets from every node in g[dst]
// to dst are dropped.
func (f *netfaults) setPartition(g cluster.Grudge) error {
	var pairs []netfault.Pair
	for _, dst := range sortedKeys(g) {
		dstIP, err := f.ip(dst)
		if err != nil {
			return err
		}
		for _, src := range g[dst] {
			srcIP, err := f.ip(src)
			if err != nil {
				return err
			}
			if src != dst {
				pairs = append(pairs, netfault.Pair{Src: srcIP, Dst: dstIP})
			}
		}
	}
	return f.update(func(r *netfault.Rules) { r.Partition = pairs })
}

// setLoss replaces the loss rules: a share p of the packets between every
// ordered pair of ids is dropped.
func (f *netfaults) setLoss(ids []string, p float64) error {
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("packet loss %v is not between 0 and 1", p)
	}
	pairs, err := f.allPairs(ids)
	if err != nil {
		return err
	}
	return f.update(func(r *netfault.Rules) { r.Loss, r.LossRate = pairs, p })
}

// setDelay replaces the delay rules: every packet between every ordered
// pair of ids waits d.
func (f *netfaults) setDelay(ids []string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("packet delay %v is negative", d)
	}
	var pairs []netfault.Pair
	if d > 0 {
		var err error
		if pairs, err = f.allPairs(ids); err != nil {
			return err
		}
	}
	f.mu.Lock()
	if f.delay == nil && len(pairs) > 0 && !f.closed {
		dl, err := startDelayer()
		if err != nil {
			f.mu.Unlock()
			return err
		}
		f.delay = dl
	}
	if f.delay != nil {
		f.delay.set(d)
	}
	f.mu.Unlock()
	return f.update(func(r *netfault.Rules) { r.Delay = pairs })
}

// allPairs is every ordered pair of distinct addresses of ids.
func (f *netfaults) allPairs(ids []string) ([]netfault.Pair, error) {
	ips := make([]netip.Addr, 0, len(ids))
	for _, id := range ids {
		ip, err := f.ip(id)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(ips, ip) {
			ips = append(ips, ip)
		}
	}
	var pairs []netfault.Pair
	for _, src := range ips {
		for _, dst := range ips {
			if src != dst {
				pairs = append(pairs, netfault.Pair{Src: src, Dst: dst})
			}
		}
	}
	return pairs, nil
}

// heal removes every partition, loss and delay rule.
func (f *netfaults) heal() error {
	return f.update(func(r *netfault.Rules) { *r = netfault.Rules{} })
}

// update applies the rules as changed by change, and keeps them if that
// succeeds.
func (f *netfaults) update(change func(*netfault.Rules)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errors.New("network faults: already cleaned up")
	}
	r := f.rules
	change(&r)
	if err := netfault.Apply(r); err != nil {
		return fmt.Errorf("network faults: %w", err)
	}
	f.rules = r
	return nil
}

// close deletes the table; later calls do nothing.
func (f *netfaults) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	var errs []error
	if err := netfault.Remove(); err != nil {
		errs = append(errs, fmt.Errorf("network faults: %w", err))
	}
	f.closed = true
	if f.delay != nil {
		// After the rules are gone, so that no new packet waits for a
		// reader; the held ones are let through.
		errs = append(errs, f.delay.close())
	}
	return errors.Join(errs...)
}

// addNode makes a node added after the start known to the rules.
func (f *netfaults) addNode(id string, ip netip.Addr) {
	f.ipsMu.Lock()
	defer f.ipsMu.Unlock()
	f.ips[id] = ip
}

func (f *netfaults) ip(id string) (netip.Addr, error) {
	f.ipsMu.RLock()
	defer f.ipsMu.RUnlock()
	ip, ok := f.ips[id]
	if !ok {
		return netip.Addr{}, fmt.Errorf("unknown node %q", id)
	}
	return ip, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
