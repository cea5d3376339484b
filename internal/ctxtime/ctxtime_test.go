package ctxtime

import (
	"context"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	if !Sleep(t.Context(), time.Millisecond) {
		t.Fatal("Sleep with a live context reported an early end")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// An hour: the test would hang if a done context did not end the wait.
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep with a done context reported a full wait")
	}
}
