package local

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	nfqueue "github.com/florianl/go-nfqueue/v2"
	"github.com/mdlayher/netlink"

	"github.com/quorumlab/quorumlab/cluster/netfault"
)

// delayer holds every packet the delay rules queue (netfault.DelayQueue)
// for the current delay, then lets it pass: packet delay without tc netem.
// One goroutine releases the packets in arrival order, so that a delay
// never reorders them.
type delayer struct {
	nf     *nfqueue.Nfqueue
	cancel context.CancelFunc
	delay  atomic.Int64 // nanoseconds
	held   chan heldPacket
	done   chan struct{} // closed once the releaser has stopped
}

type heldPacket struct {
	id  uint32
	due time.Time
}

// maxHeld bounds the packets held at once; past it the kernel lets new
// ones through (fail-open) rather than drop them, which would be a
// partition, not a delay.
const maxHeld = 1 << 14

func startDelayer() (*delayer, error) {
	nf, err := nfqueue.Open(&nfqueue.Config{
		NfQueue: netfault.DelayQueue, MaxQueueLen: maxHeld, MaxPacketLen: 0xffff,
		Copymode: nfqueue.NfQnlCopyMeta, AfFamily: 2, // AF_INET
		Flags: nfqueue.NfQaCfgFlagFailOpen, WriteTimeout: time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("packet delay: open NFQUEUE %d: %w", netfault.DelayQueue, err)
	}
	// A burst must not cost us queue messages (and so packets held for good).
	_ = nf.SetOption(netlink.NoENOBUFS, true)
	ctx, cancel := context.WithCancel(context.Background())
	d := &delayer{nf: nf, cancel: cancel, held: make(chan heldPacket, maxHeld), done: make(chan struct{})}
	go d.release(ctx)
	err = nf.RegisterWithErrorFunc(ctx, func(a nfqueue.Attribute) int {
		if a.PacketID == nil {
			return 0
		}
		p := heldPacket{*a.PacketID, time.Now().Add(time.Duration(d.delay.Load()))}
		select {
		case d.held <- p:
		default: // more than the queue holds: let it pass now
			_ = nf.SetVerdict(p.id, nfqueue.NfAccept)
		}
		return 0
	}, func(error) int { return 0 }) // keep reading after a receive error
	if err != nil {
		d.close()
		return nil, fmt.Errorf("packet delay: listen on NFQUEUE %d: %w", netfault.DelayQueue, err)
	}
	return d, nil
}

// release lets each held packet pass once it is due, in order; at the end
// it lets the rest pass at once.
func (d *delayer) release(ctx context.Context) {
	defer close(d.done)
	for {
		select {
		case p := <-d.held:
			if wait := time.Until(p.due); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
				}
			}
			_ = d.nf.SetVerdict(p.id, nfqueue.NfAccept)
		case <-ctx.Done():
			for {
				select {
				case p := <-d.held:
					_ = d.nf.SetVerdict(p.id, nfqueue.NfAccept)
				default:
					return
				}
			}
		}
	}
}

func (d *delayer) set(wait time.Duration) { d.delay.Store(int64(wait)) }

func (d *delayer) close() error {
	d.cancel()
	<-d.done
	return d.nf.Close()
}
