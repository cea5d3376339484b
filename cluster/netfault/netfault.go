// Package netfault fakes network faults with nftables rules in a table of its
// own (inet quorumlab) in the current network namespace; it never touches
// other tables. The local backend applies rules in the harness's private
// namespace, where every node lives; the docker backend runs the netfault
// command (cmd/netfault) inside each container, which applies that
// container's rules.
//
// Rules drop rather than reject, so that TCP connections hang as on a real
// network. Only the input hook is used: every packet passes it once, at the
// receiver.
package netfault

import (
	"fmt"
	"math"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// TableName is the name of the inet table the rules live in.
const TableName = "quorumlab"

const (
	partitionChain = "partition"
	lossChain      = "loss"
	delayChain     = "delay"
	// DelayQueue is the NFQUEUE number delayed packets wait in; a
	// user-space handler (DelayQueue's reader) releases them.
	DelayQueue = 0
	// lossModulus is the resolution of packet loss: 1/10000.
	lossModulus = 10000
)

// Pair selects the packets from Src to Dst. A zero Dst matches every
// destination, which is what a container needs: all it receives is its own.
type Pair struct {
	Src, Dst netip.Addr
}

// Rules is the complete fault state of one network namespace.
type Rules struct {
	Partition []Pair  // every packet is dropped
	Loss      []Pair  // a share LossRate of the packets is dropped
	LossRate  float64 // 0..1
	// Delay packets go to NFQUEUE DelayQueue, for a handler to hold
	// (nft's own queue statement needs nft_queue, which some kernels lack;
	// this uses the xtables NFQUEUE target through nft_compat). Without a
	// handler they pass (the queue's bypass flag).
	Delay []Pair
}

// Validate reports addresses that are not IPv4 and a rate outside 0..1.
func (r Rules) Validate() error {
	if !(r.LossRate >= 0 && r.LossRate <= 1) {
		return fmt.Errorf("packet loss %v is not between 0 and 1", r.LossRate)
	}
	for _, pairs := range [][]Pair{r.Partition, r.Loss, r.Delay} {
		for _, p := range pairs {
			if !p.Src.Is4() {
				return fmt.Errorf("source %v is not an IPv4 address", p.Src)
			}
			if p.Dst.IsValid() && !p.Dst.Is4() {
				return fmt.Errorf("destination %v is not an IPv4 address", p.Dst)
			}
		}
	}
	return nil
}

// Apply replaces the table with one holding exactly r, in one transaction,
// whether or not the table existed or held other rules. Empty rules leave an
// empty table.
func Apply(r Rules) error {
	if err := r.Validate(); err != nil {
		return err
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	table := newTable()
	// Add, delete, add: a fresh table whether or not one was there.
	c.AddTable(table)
	c.DelTable(table)
	c.AddTable(table)
	chains := build(r)
	for _, name := range []string{partitionChain, lossChain, delayChain} {
		chain := c.AddChain(&nftables.Chain{
			Name:     name,
			Table:    table,
			Type:     nftables.ChainTypeFilter,
			Hooknum:  nftables.ChainHookInput,
			Priority: nftables.ChainPriorityFilter,
			Policy:   ptr(nftables.ChainPolicyAccept),
		})
		for _, exprs := range chains[name] {
			c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: exprs})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("update nftables table inet %s: %w", TableName, err)
	}
	return nil
}

// Remove deletes the table; there being none is not an error.
func Remove() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	table := newTable()
	c.AddTable(table) // so that the delete always finds one
	c.DelTable(table)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("delete nftables table inet %s: %w", TableName, err)
	}
	return nil
}

func newTable() *nftables.Table {
	return &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}
}

// build returns the rules of each chain. Both chains always exist, so that
// `nft list table inet quorumlab` shows the same layout whatever is active.
func build(r Rules) map[string][][]expr.Any {
	chains := map[string][][]expr.Any{partitionChain: nil, lossChain: nil, delayChain: nil}
	for _, p := range r.Delay {
		chains[delayChain] = append(chains[delayChain], append(match(p), queue()))
	}
	for _, p := range r.Partition {
		chains[partitionChain] = append(chains[partitionChain], append(match(p), drop()))
	}
	if threshold := uint32(math.Round(r.LossRate * lossModulus)); threshold > 0 {
		for _, p := range r.Loss {
			rule := append(match(p), randomBelow(threshold)...)
			chains[lossChain] = append(chains[lossChain], append(rule, drop()))
		}
	}
	return chains
}

// match is `meta nfproto ipv4 ip saddr SRC [ip daddr DST]`; the nfproto check
// is what nft adds implicitly in an inet table.
func match(p Pair) []expr.Any {
	exprs := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Src.AsSlice()},
	}
	if p.Dst.IsValid() {
		exprs = append(exprs,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Dst.AsSlice()},
		)
	}
	return exprs
}

// randomBelow is `numgen random mod lossModulus < threshold`. numgen yields a
// host-order number while cmp compares bytes, hence the byteorder step (as
// nft itself generates it).
func randomBelow(threshold uint32) []expr.Any {
	return []expr.Any{
		&expr.Numgen{Register: 1, Modulus: lossModulus, Type: unix.NFT_NG_RANDOM},
		&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
		&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: binaryutil.BigEndian.PutUint32(threshold)},
	}
}

func drop() expr.Any { return &expr.Verdict{Kind: expr.VerdictDrop} }

// queue is iptables' `-j NFQUEUE --queue-num DelayQueue --queue-bypass`:
// struct xt_NFQ_info_v3 {u16 queuenum, queues_total, flags}, padded to 8.
func queue() expr.Any {
	info := xt.Unknown{DelayQueue, 0, 1, 0, 0x01, 0, 0, 0} // little-endian; flags: bypass
	return &expr.Target{Name: "NFQUEUE", Rev: 3, Info: &info}
}

func ptr[T any](v T) *T { return &v }
