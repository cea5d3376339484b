// Package ctxtime holds waits that end early when a context does.
package ctxtime

import (
	"context"
	"time"
)

// Sleep waits for d (not at all if d <= 0) and reports true, or returns
// false as soon as ctx ends.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
