package harness

import (
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/nemesis"
)

// progress shows elapsed/limit, ok/fail/info counts and the active fault: a
// live bar on a terminal, a plain line every few seconds otherwise.
func progress(cfg Config, rec *history.Recorder, nem *nemesis.Nemesis) (stop func()) {
	w := cfg.Progress
	if w == nil {
		return func() {}
	}
	limit := cfg.Workload.TimeLimit
	start := time.Now()
	describe := func() string {
		c := rec.Counts()
		fault := nem.Active()
		if fault == "" {
			fault = "none"
		}
		return fmt.Sprintf("ok %d  fail %d  info %d  fault: %s", c[history.OK], c[history.Fail], c[history.Info], fault)
	}
	tty := isTerminal(w)
	var bar *progressbar.ProgressBar
	every := 5 * time.Second
	if tty {
		every = 200 * time.Millisecond
		bar = progressbar.NewOptions64(int64(limit/time.Second),
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetWidth(20),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetRenderBlankState(true),
		)
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				if bar != nil {
					bar.Describe(describe())
					bar.Finish()
					fmt.Fprintln(w)
				} else {
					fmt.Fprintf(w, "%s/%s  %s\n", time.Since(start).Round(time.Second), limit, describe())
				}
				return
			case <-t.C:
				el := time.Since(start)
				if bar != nil {
					bar.Describe(describe())
					bar.Set64(int64(min(el, limit) / time.Second))
				} else {
					fmt.Fprintf(w, "%s/%s  %s\n", el.Round(time.Second), limit, describe())
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}
