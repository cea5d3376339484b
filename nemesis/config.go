package nemesis

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Fault kinds.
const (
	Partition = "partition"
	Kill      = "kill"
	Pause     = "pause"
	Loss      = "loss"
	Clock     = "clock"
	// Strobe flips a node's clock offset between 0 and a skew every
	// StrobePeriod while it lasts (Jepsen's clock strobe): timestamps that
	// jump back and forth, not one steady skew.
	Strobe = "strobe"
	// Delay holds every packet between nodes for Config.Delay (NFQUEUE:
	// this kernel has no tc netem). It needs a cluster.Delayer.
	Delay = "delay"
	// Power kills nodes and discards every write they had not fsynced, as
	// a power failure does (a kill leaves them in the page cache); its stop
	// restarts them. It needs a cluster.PowerCutter.
	Power = "power"
	// Membership changes the ring: it alternately adds a node (a spare
	// the cluster starts, or one decommissioned before) and decommissions
	// a member. Its stop undoes nothing: the next membership fault does.
	Membership = "membership"
)

// Kinds lists every fault kind.
func Kinds() []string {
	return []string{Partition, Kill, Pause, Loss, Delay, Clock, Strobe, Power, Membership, Replace}
}

// Target sets: how many nodes a node fault (kill, pause, clock, strobe,
// power) takes.
const (
	TargetOne      = "one"
	TargetMinority = "minority"
	TargetMajority = "majority"
	TargetAll      = "all"
)

// TargetSets lists every target set; "" draws one of the first three.
func TargetSets() []string { return []string{TargetOne, TargetMinority, TargetMajority, TargetAll} }

// Config is a fault schedule.
type Config struct {
	Faults []string
	// Interval is the mean time between a heal and the next fault, and the
	// mean length of a fault; each is drawn uniformly from ±50 % of it.
	Interval time.Duration
	// Shape is a partition shape, or "" for a random one each time.
	Shape string
	// Targets is a target set, or "" for one, a minority or a majority
	// drawn each time.
	Targets string
	// LossRate is the share of packets dropped by a loss fault.
	LossRate float64
	// Delay is how long a delay fault holds each packet.
	Delay time.Duration
	// Flap, if set, makes a partition come and go every Flap while the
	// fault lasts.
	Flap time.Duration
	// MaxSkew bounds clock offsets in both directions.
	MaxSkew time.Duration
	Seed    uint64
	// Overlap gives each kind a schedule of its own, so that faults of
	// different kinds overlap (as in Jepsen's combined nemesis). Faults on
	// nodes (kill, pause, clock, membership) still never share a node.
	// Without it one fault is active at a time.
	Overlap bool
}

// DefaultConfig partitions and kills every 10 s.
func DefaultConfig() Config {
	return Config{Faults: []string{Partition, Kill}, Interval: 10 * time.Second, LossRate: 0.3, Delay: 50 * time.Millisecond, MaxSkew: 5 * time.Second, Seed: 1}
}

// ParseFaults parses "partition,kill" or "none".
func ParseFaults(s string) ([]string, error) {
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(Kinds(), f) {
			return nil, fmt.Errorf("unknown fault %q (want some of %s, or none)", f, strings.Join(Kinds(), ","))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// Validate reports the first bad setting.
func (c Config) Validate() error {
	for _, f := range c.Faults {
		if !slices.Contains(Kinds(), f) {
			return fmt.Errorf("unknown fault %q", f)
		}
	}
	if len(c.Faults) > 0 && c.Interval <= 0 {
		return fmt.Errorf("nemesis interval %v: must be positive", c.Interval)
	}
	if c.Shape != "" && !slices.Contains(Shapes(), c.Shape) && !slices.Contains(RingShapes(), c.Shape) {
		return fmt.Errorf("unknown partition shape %q (want %s)", c.Shape, strings.Join(slices.Concat(Shapes(), RingShapes()), ", "))
	}
	if c.Targets != "" && !slices.Contains(TargetSets(), c.Targets) {
		return fmt.Errorf("unknown nemesis targets %q (want %s)", c.Targets, strings.Join(TargetSets(), ", "))
	}
	if c.Flap < 0 {
		return fmt.Errorf("partition flap %v: must not be negative", c.Flap)
	}
	if slices.Contains(c.Faults, Delay) && c.Delay <= 0 {
		return fmt.Errorf("packet delay %v: must be positive", c.Delay)
	}
	if c.LossRate < 0 || c.LossRate > 1 {
		return fmt.Errorf("loss rate %v: must be between 0 and 1", c.LossRate)
	}
	return nil
}
