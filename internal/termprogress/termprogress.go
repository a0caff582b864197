// Package termprogress renders stage progress as live bars (count, rate,
// ETA) on a terminal, using mpb. Log lines written through [Bars.Writer]
// appear above the bars instead of tearing them.
package termprogress

import (
	"io"
	"strconv"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"coderflow/pipeline"
)

// Bars is a pipeline.ProgressFactory drawing one bar per unit of work.
type Bars struct {
	p  *mpb.Progress
	mu sync.Mutex
}

// New starts rendering to out (a terminal).
func New(out io.Writer) *Bars {
	return &Bars{p: mpb.New(mpb.WithOutput(out), mpb.WithWidth(40), mpb.WithAutoRefresh())}
}

// Writer returns a writer whose lines are printed above the bars.
func (b *Bars) Writer() io.Writer { return b.p }

// Start implements pipeline.ProgressFactory.
func (b *Bars) Start(stage, label string, total int64) pipeline.Progress {
	b.mu.Lock()
	defer b.mu.Unlock()
	bp := &barProgress{total: total}
	bar := b.p.AddBar(total,
		mpb.PrependDecorators(
			decor.Name(stage+" ", decor.WC{W: 10, C: decor.DindentRight}),
			decor.Name(label+" ", decor.WC{W: 12, C: decor.DindentRight}),
			decor.Any(bp.counters, decor.WCSyncWidth),
		),
		mpb.AppendDecorators(
			decor.AverageSpeed(0, " %.1f/s", decor.WCSyncWidth),
			decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO, decor.WC{W: 8}), " done"),
		),
		mpb.BarRemoveOnComplete(),
	)
	bp.bar = bar
	return bp
}

// Wait stops rendering once every bar is done.
func (b *Bars) Wait() { b.p.Shutdown() }

type barProgress struct {
	mu    sync.Mutex
	bar   *mpb.Bar
	total int64
	done  bool
}

func (p *barProgress) Add(n int64) { p.bar.IncrInt64(n) }

// counters renders "done/total", or only "done" while the total is
// unknown (0: "n/0" read as if nothing were left).
func (p *barProgress) counters(s decor.Statistics) string {
	p.mu.Lock()
	total := p.total
	p.mu.Unlock()
	if total <= 0 {
		return strconv.FormatInt(s.Current, 10)
	}
	return strconv.FormatInt(s.Current, 10) + "/" + strconv.FormatInt(s.Total, 10)
}

func (p *barProgress) SetTotal(total int64) {
	p.mu.Lock()
	p.total = total
	p.mu.Unlock()
	p.bar.SetTotal(total, false)
}

func (p *barProgress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	p.done = true
	p.bar.SetTotal(-1, true)
}
