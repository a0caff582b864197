// Package termprogress renders stage progress as live bars (count, rate,
// ETA) on a terminal, using mpb. Log lines written through [Bars.Writer]
// appear above the bars instead of tearing them. A line never runs past
// the terminal's width, read at every frame (a resize takes effect at the
// next one): on a narrow terminal the bar, then the rate, then the ETA
// give way, and the names are cut with "…", so the count stays in view.
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
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

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
	bar, err := b.p.Add(0, narrowFiller(mpb.BarStyle().Build()),
		mpb.PrependDecorators(decor.Any(func(s decor.Statistics) string { return bp.head(stage, label, s) })),
		mpb.AppendDecorators(
			fit{decor.AverageSpeed(0, " %.1f/s", decor.WC{W: 10}), etaWidth},
			fit{decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO, decor.WC{W: 8}), " done"), 0},
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

// Column widths of a bar's line on a terminal wide enough for all of it.
const (
	stageWidth  = 10 // stage id, left-aligned
	labelWidth  = 12 // what is counted, left-aligned
	countWidth  = 9  // done/total, right-aligned
	rateWidth   = 10 // " 12.3/s"
	etaWidth    = 8  // ETA, or " done"
	minBarWidth = 10 // the bar itself, with its two spaces
	fullLineMin = stageWidth + labelWidth + countWidth + rateWidth + etaWidth + minBarWidth
)

// head renders the start of a bar's line: stage, label and count in
// fixed columns when the terminal is wide enough for the whole line
// (stat.AvailableWidth is the terminal's width here). On a narrower one it
// is "stage label count" with single spaces, the names cut with "…" so
// that the count stays on the screen: mpb cuts a line that is too long at
// the terminal's edge, and at 20 columns the padded stage and label
// columns alone (22) pushed the count, rate and ETA off it, so a narrow
// terminal showed no progress at all.
func (p *barProgress) head(stage, label string, s decor.Statistics) string {
	count := p.counters(s)
	if s.AvailableWidth <= 0 || s.AvailableWidth >= fullLineMin {
		return padRight(stage, stageWidth-1) + " " + padRight(label, labelWidth-1) + " " +
			strings.Repeat(" ", max(0, countWidth-utf8.RuneCountInString(count))) + count
	}
	room := s.AvailableWidth - utf8.RuneCountInString(count) - 1 // the space before the count
	name := stage + " " + label
	if room < 2 { // a lone "…" says nothing
		return count
	}
	return cut(name, room) + " " + count
}

// padRight pads s with spaces to n runes.
func padRight(s string, n int) string {
	return s + strings.Repeat(" ", max(0, n-utf8.RuneCountInString(s)))
}

// cut shortens s to n runes, the last one "…" when it cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// fit is a decorator shown only when it and keep more columns fit on the
// line; otherwise it takes no room (mpb would cut it to a lone "…"), and
// the count before it stays readable. The wrapped decorator is still
// called every frame: the rate and ETA keep their state.
type fit struct {
	decor.Decorator
	keep int
}

func (f fit) Decor(s decor.Statistics) (string, int) {
	str, w := f.Decorator.Decor(s)
	if w+f.keep > s.AvailableWidth {
		return "", 0
	}
	return str, w
}

// Unwrap lets mpb find the wrapped decorator's optional interfaces
// (decor.AverageDecorator, decor.ShutdownListener).
func (f fit) Unwrap() decor.Decorator { return f.Decorator }

// narrowFiller draws the bar only where it has room for a few cells: in
// the columns a narrow terminal leaves after the count it was a bare "[]".
func narrowFiller(f mpb.BarFiller) mpb.BarFiller {
	return mpb.BarFillerFunc(func(w io.Writer, s decor.Statistics) error {
		if s.AvailableWidth < minBarWidth-2 { // the two spaces around it are taken
			return nil
		}
		return f.Fill(w, s)
	})
}

// nopProgress is the reporter of a bar started after Wait.
type nopProgress struct{}

func (nopProgress) Add(int64)      {}
func (nopProgress) SetTotal(int64) {}
func (nopProgress) Done()          {}
