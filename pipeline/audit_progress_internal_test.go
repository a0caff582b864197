package pipeline

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// blockingHandler records messages; the first "progress" record blocks
// until release is closed.
type blockingHandler struct {
	mu      *sync.Mutex
	msgs    *[]string
	entered chan struct{} // closed when the first "progress" record arrives
	release chan struct{}
	logged  chan struct{} // closed when the first "progress" record is recorded
	once    *sync.Once
}

func (h blockingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h blockingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h blockingHandler) WithGroup(string) slog.Handler            { return h }
func (h blockingHandler) Handle(_ context.Context, r slog.Record) error {
	first := false
	if r.Message == "progress" {
		h.once.Do(func() { first = true })
	}
	if first {
		close(h.entered)
		<-h.release
	}
	h.mu.Lock()
	*h.msgs = append(*h.msgs, r.Message)
	h.mu.Unlock()
	if first {
		close(h.logged)
	}
	return nil
}

// TestLogProgressNothingAfterDone: once Done has returned, the reporter's
// goroutine logs nothing more. A "progress" line whose tick came just
// before Done used to be written after the end line (and after the stage,
// even Run, had returned, into a logger the caller may have closed).
func TestLogProgressNothingAfterDone(t *testing.T) {
	old := logProgressInterval
	logProgressInterval = time.Millisecond
	defer func() { logProgressInterval = old }()
	var mu sync.Mutex
	var msgs []string
	h := blockingHandler{mu: &mu, msgs: &msgs, entered: make(chan struct{}), release: make(chan struct{}),
		logged: make(chan struct{}), once: &sync.Once{}}
	p := newLogProgress(slog.New(h), "items", 10).(*logProgress)
	p.start = time.Now().Add(-time.Minute) // long enough to log an end line
	p.Add(10)
	<-h.entered // the ticker's "progress" line is being written
	time.AfterFunc(50*time.Millisecond, func() { close(h.release) })
	p.Done()
	<-h.logged
	mu.Lock()
	defer mu.Unlock()
	if len(msgs) == 0 || msgs[len(msgs)-1] != "finished" {
		t.Errorf("log lines %v: want the end line last", msgs)
	}
}
