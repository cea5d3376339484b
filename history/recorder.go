package history

import "sync"

// Recorder stamps operations with the run's clock, appends them to the
// history and keeps the counts a progress line shows.
type Recorder struct {
	w     *Writer
	clock Clock
	// order makes the stamping and the append one step, so that times
	// never go back in the file.
	order sync.Mutex

	mu     sync.Mutex
	counts map[Type]int64
	err    error
}

// NewRecorder records into w, timing with clock.
func NewRecorder(w *Writer, clock Clock) *Recorder {
	return &Recorder{w: w, clock: clock, counts: map[Type]int64{}}
}

// Record sets op.Time to now, appends it and returns it with its index. A
// write error is kept (see Err) rather than returned: a workload must not
// stop mid-operation because the disk is full.
func (r *Recorder) Record(op Op) Op {
	r.order.Lock()
	op.Time = r.clock.Now()
	out, err := r.w.Append(op)
	r.order.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil && r.err == nil {
		r.err = err
	}
	if op.Process != NemesisProcess {
		r.counts[op.Type]++
	}
	return out
}

// Now is the run clock's current time.
func (r *Recorder) Now() int64 { return r.clock.Now() }

// Counts returns how many client completions of each type were recorded.
func (r *Recorder) Counts() map[Type]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[Type]int64, len(r.counts))
	for k, v := range r.counts {
		out[k] = v
	}
	return out
}

// Err is the first error writing the history, if any.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}
