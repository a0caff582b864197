// Package termprogress renders stage progress as live bars (count, rate,
// ETA) on a terminal, using mpb. Log lines written through [Bars.Writer]
// appear above the bars instead of tearing them.
//
// Every method is safe for concurrent use. [Bars.Wait] ends the display:
// it draws a last frame (so that the lines written just before it are
// printed, not dropped with the render buffer), and afterwards
// [Bars.Writer] writes straight to the output, [Bars.Start] returns a
// reporter that draws nothing, and a bar's Add, SetTotal and Done do
// nothing. A bar ends on Done only (not when its count reaches the total,
// which SetTotal may still raise), and ignores Add and SetTotal after Done,
// so its last frame shows the count it finished with.
package termprogress

import (
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"coderflow/pipeline"
)

// refreshEvery is how often the bars are redrawn.
const refreshEvery = 150 * time.Millisecond

// Bars is a pipeline.ProgressFactory drawing one bar per unit of work.
type Bars struct {
	out      io.Writer
	p        *mpb.Progress
	refresh  chan any      // render requests: the ticker's, and Wait's last one
	shutdown chan any      // closed by mpb when its renderer has stopped
	stop     chan struct{} // stops the ticker
	ticking  chan struct{} // closed when the ticker has stopped

	// mu serialises Start, the Writer's lines and Wait: a line written
	// before Wait is in the last frame, a line written after it goes
	// straight to out, and no bar is added to a stopped renderer.
	mu     sync.Mutex
	closed bool
}

// New starts rendering to out (a terminal).
func New(out io.Writer) *Bars { return newBars(out, refreshEvery) }

// newBars is New with the refresh interval; every <= 0 draws only on Wait
// (tests).
func newBars(out io.Writer, every time.Duration) *Bars {
	b := &Bars{out: out, refresh: make(chan any), shutdown: make(chan any),
		stop: make(chan struct{}), ticking: make(chan struct{})}
	b.p = mpb.New(mpb.WithOutput(out), mpb.WithWidth(40),
		mpb.WithManualRefresh(b.refresh), mpb.WithShutdownNotifier(b.shutdown))
	go b.tick(every)
	return b
}

// tick requests a redraw every interval until Wait (or until mpb stops by
// itself after a failed write to the terminal).
func (b *Bars) tick(every time.Duration) {
	defer close(b.ticking)
	if every <= 0 {
		<-b.stop
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			select {
			case b.refresh <- now:
			case <-b.stop:
				return
			case <-b.shutdown:
				return
			}
		}
	}
}

// Writer returns a writer whose lines are printed above the bars, and
// after Wait directly to the output.
func (b *Bars) Writer() io.Writer { return lineWriter{b} }

type lineWriter struct{ b *Bars }

func (w lineWriter) Write(p []byte) (int, error) {
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	if !w.b.closed {
		if n, err := w.b.p.Write(p); err == nil {
			return n, nil
		}
		// the renderer stopped by itself (a failed write to the terminal):
		// the line goes to the output as it is
	}
	return w.b.out.Write(p)
}

// Start implements pipeline.ProgressFactory. After Wait it returns a
// reporter that draws nothing.
func (b *Bars) Start(stage, label string, total int64) pipeline.Progress {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nopProgress{}
	}
	bp := &barProgress{}
	bp.total.Store(total)
	// The bar is added with total 0, which turns off mpb's completion when
	// the count reaches the total: it was the total the bar started with,
	// so a bar whose SetTotal raised it vanished part-way. A bar
	// completes on Done only. Columns have fixed minimum widths rather
	// than mpb's WCSyncWidth, whose cross-bar width exchange can hang the
	// renderer when bars are added and removed while a frame is drawn
	// (seen in TestDoneWhileDrawing).
	bar, err := b.p.Add(0, mpb.BarStyle().Build(),
		mpb.PrependDecorators(
			decor.Name(stage+" ", decor.WC{W: 10, C: decor.DindentRight}),
			decor.Name(label+" ", decor.WC{W: 12, C: decor.DindentRight}),
			decor.Any(bp.counters, decor.WC{W: 9}),
		),
		mpb.AppendDecorators(
			decor.AverageSpeed(0, " %.1f/s", decor.WC{W: 10}),
			decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO, decor.WC{W: 8}), " done"),
		),
		mpb.BarRemoveOnComplete(),
	)
	if err != nil { // the renderer stopped by itself
		return nopProgress{}
	}
	bp.bar = bar
	if total > 0 {
		bar.SetTotal(total, false)
	}
	return bp
}

// Wait draws a last frame, which prints the lines written through Writer
// since the previous one, and stops rendering. Bars that are not done keep
// their last state on the screen. Calling it again does nothing.
func (b *Bars) Wait() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	close(b.stop)
	<-b.ticking
	select {
	case b.refresh <- time.Now():
	case <-b.shutdown: // already stopped: nothing can be drawn
	}
	b.p.Shutdown()
}

// barProgress is one bar. It holds no lock: its counters decorator runs on
// the bar's own goroutine, which a Done holding a lock while it waits for
// that goroutine would deadlock with.
type barProgress struct {
	bar   *mpb.Bar
	total atomic.Int64
	done  atomic.Bool
}

func (p *barProgress) Add(n int64) {
	if !p.done.Load() {
		p.bar.IncrInt64(n)
	}
}

// counters renders "done/total", or only "done" while the total is
// unknown (0: "n/0" read as if nothing were left).
func (p *barProgress) counters(s decor.Statistics) string {
	if p.total.Load() <= 0 {
		return strconv.FormatInt(s.Current, 10)
	}
	return strconv.FormatInt(s.Current, 10) + "/" + strconv.FormatInt(s.Total, 10)
}

func (p *barProgress) SetTotal(total int64) {
	if p.done.Load() {
		return
	}
	p.total.Store(total)
	p.bar.SetTotal(total, false)
}

func (p *barProgress) Done() {
	if p.done.Swap(true) {
		return
	}
	p.bar.SetTotal(-1, true)
}

// nopProgress is the reporter of a bar started after Wait.
type nopProgress struct{}

func (nopProgress) Add(int64)      {}
func (nopProgress) SetTotal(int64) {}
func (nopProgress) Done()          {}
