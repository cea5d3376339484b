package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// flushInterval bounds how much of the history a killed harness can lose.
const flushInterval = time.Second

// Writer appends ops to a JSONL history. It is safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	bw   *bufio.Writer
	file *os.File // nil unless opened by Create
	next int64
	err  error // sticky: after a failed write the history has a hole

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// NewWriter returns a Writer appending to w. Close flushes but does not close w.
func NewWriter(w io.Writer) *Writer {
	hw := &Writer{
		bw:   bufio.NewWriterSize(w, 64<<10),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go hw.flushLoop()
	return hw
}

// Create creates (or truncates) the file at path and returns a Writer to it.
func Create(path string) (*Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create history: %w", err)
	}
	w := NewWriter(f)
	w.file = f
	return w, nil
}

// flushLoop flushes periodically so that a killed harness leaves at most the
// last second of its history unwritten.
func (w *Writer) flushLoop() {
	defer close(w.done)
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			_ = w.Flush() // the error is sticky and surfaces on the next Append
		}
	}
}

// Append assigns op the next index, writes it as one line and returns it.
func (w *Writer) Append(op Op) (Op, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return op, w.err
	}
	op.Index = w.next
	b, err := json.Marshal(op)
	if err != nil {
		// Nothing was written, so the history stays consistent.
		return op, fmt.Errorf("encode op: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.bw.Write(b); err != nil {
		w.err = fmt.Errorf("write history: %w", err)
		return op, w.err
	}
	w.next++
	return op, nil
}

// Flush writes buffered ops to the underlying writer.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("flush history: %w", err)
	}
	return w.err
}

// Close flushes, stops the background flusher and, for a Writer from Create,
// syncs and closes the file. Appends after Close fail.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() { w.closeErr = w.close() })
	return w.closeErr
}

func (w *Writer) close() error {
	close(w.stop)
	<-w.done

	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.flushLocked()
	if w.file != nil {
		if serr := w.file.Sync(); serr != nil && err == nil {
			err = fmt.Errorf("sync history: %w", serr)
		}
		if cerr := w.file.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close history: %w", cerr)
		}
	}
	if w.err == nil {
		w.err = errClosed
	}
	return err
}

var errClosed = errors.New("history writer closed")

// Clock gives op times: monotonic nanoseconds since the clock was created.
type Clock struct{ start time.Time }

// NewClock starts a clock at zero.
func NewClock() Clock { return Clock{start: time.Now()} }

// Now returns the nanoseconds since NewClock, from the monotonic clock so that
// wall-clock jumps cannot reorder the history.
func (c Clock) Now() int64 { return int64(time.Since(c.start)) }
