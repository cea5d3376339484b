package nemesis

import (
	"context"
	"errors"
	"time"
)

// testAdmin is an Admin made of test functions; a call without one fails.
type testAdmin struct {
	clock              func(ctx context.Context, node string, offset time.Duration) error
	join, decommission func(ctx context.Context, node string) error
}

var errNoTestAdmin = errors.New("not in this test")

func (a testAdmin) SetClockOffset(ctx context.Context, node string, offset time.Duration) error {
	if a.clock == nil {
		return errNoTestAdmin
	}
	return a.clock(ctx, node, offset)
}

func (a testAdmin) Join(ctx context.Context, node string) error {
	if a.join == nil {
		return errNoTestAdmin
	}
	return a.join(ctx, node)
}

func (a testAdmin) Decommission(ctx context.Context, node string) error {
	if a.decommission == nil {
		return errNoTestAdmin
	}
	return a.decommission(ctx, node)
}
