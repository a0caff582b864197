package pipeline

import (
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Progress reports the advance of one unit of work inside a stage.
type Progress interface {
	Add(n int64)          // n more items done
	SetTotal(total int64) // total became known or changed
	// Done: the work finished (or stopped). The engine calls it again
	// when the stage returns (a stage that failed or panicked may not
	// have), so it must do nothing the second time.
	Done()
}

// ProgressFactory makes progress reporters; the engine picks a terminal
// (bars) or a log-line implementation.
type ProgressFactory interface {
	Start(stage, label string, total int64) Progress
}

// logProgressInterval is how often a log-line progress reporter logs.
var logProgressInterval = 5 * time.Second

// logProgress logs a line with count, rate and ETA every few seconds.
type logProgress struct {
	log   *slog.Logger
	label string
	total atomic.Int64
	n     atomic.Int64
	start time.Time
	stop  chan struct{}
	// exited is closed when loop has returned: Done waits for it, so no
	// "progress" line follows the end line, and no reporter goroutine
	// outlives the stage (nor logs into a logger its caller has closed)
	exited chan struct{}
	once   sync.Once
}

func newLogProgress(log *slog.Logger, label string, total int64) Progress {
	p := &logProgress{log: log, label: label, start: time.Now(), stop: make(chan struct{}), exited: make(chan struct{})}
	p.total.Store(total)
	go p.loop()
	return p
}

func (p *logProgress) loop() {
	defer close(p.exited)
	t := time.NewTicker(logProgressInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.emit("progress")
		}
	}
}

func (p *logProgress) emit(msg string) {
	n, total := p.n.Load(), p.total.Load()
	if msg == "finished" && total > 0 && n < total {
		msg = "stopped" // ended early (canceled or failed): no ETA
	}
	el := time.Since(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(n) / el
	}
	attrs := []any{slog.String("work", p.label), slog.Int64("done", n), slog.String("rate", formatRate(rate))}
	if total > 0 {
		attrs = append(attrs, slog.Int64("total", total))
		if rate > 0 && n < total && msg == "progress" {
			attrs = append(attrs, slog.Duration("eta", time.Duration(float64(total-n)/rate*float64(time.Second)).Round(time.Second)))
		}
	}
	p.log.Info(msg, attrs...)
}

func (p *logProgress) Add(n int64)          { p.n.Add(n) }
func (p *logProgress) SetTotal(total int64) { p.total.Store(total) }
func (p *logProgress) Done() {
	p.once.Do(func() {
		close(p.stop)
		<-p.exited
		if time.Since(p.start) > time.Second {
			p.emit("finished")
		}
	})
}

func formatRate(r float64) string {
	switch {
	case r >= 100:
		return strconv.FormatFloat(r, 'f', 0, 64) + "/s"
	case r >= 1:
		return strconv.FormatFloat(r, 'f', 1, 64) + "/s"
	}
	return strconv.FormatFloat(r, 'f', 3, 64) + "/s"
}
