package local

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	nfqueue "github.com/florianl/go-nfqueue/v2"

	"github.com/quorumlab/quorumlab/cluster/netfault"
)

// delayer holds every packet the delay rules queue (netfault.DelayQueue)
// for the current delay, then lets it pass: packet delay without tc netem.
// Every packet waits the same time, so their order is kept.
type delayer struct {
	nf     *nfqueue.Nfqueue
	cancel context.CancelFunc
	delay  atomic.Int64 // nanoseconds
}

// maxHeld bounds the packets held at once; past it the kernel drops new
// ones, as a full router queue would.
const maxHeld = 1 << 14

func startDelayer() (*delayer, error) {
	nf, err := nfqueue.Open(&nfqueue.Config{
		NfQueue: netfault.DelayQueue, MaxQueueLen: maxHeld, MaxPacketLen: 0xffff,
		Copymode: nfqueue.NfQnlCopyMeta, AfFamily: 2, // AF_INET
		WriteTimeout: time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("packet delay: open NFQUEUE %d: %w", netfault.DelayQueue, err)
	}
	d := &delayer{nf: nf}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	err = nf.RegisterWithErrorFunc(ctx, func(a nfqueue.Attribute) int {
		if a.PacketID == nil {
			return 0
		}
		id := *a.PacketID
		release := func() { _ = nf.SetVerdict(id, nfqueue.NfAccept) }
		if wait := time.Duration(d.delay.Load()); wait > 0 {
			time.AfterFunc(wait, release)
		} else {
			release()
		}
		return 0
	}, func(error) int { return 0 }) // keep reading after a receive error
	if err != nil {
		cancel()
		nf.Close()
		return nil, fmt.Errorf("packet delay: listen on NFQUEUE %d: %w", netfault.DelayQueue, err)
	}
	return d, nil
}

func (d *delayer) set(wait time.Duration) { d.delay.Store(int64(wait)) }

func (d *delayer) close() error {
	d.cancel()
	return d.nf.Close()
}
