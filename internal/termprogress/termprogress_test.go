package termprogress

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8/decor"

	"coderflow/pipeline"
)

// syncBuffer is a bytes.Buffer the renderer goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCounters: a bar with a known total shows done/total; one whose total
// is not known yet shows the count alone, not "n/0". (No refresh ticker:
// the frame Wait draws is the only one.)
func TestCounters(t *testing.T) {
	var out syncBuffer
	b := newBars(&out, 0)
	known := b.Start("stage", "known", 10)
	unknown := b.Start("stage", "unknown", 0)
	known.Add(3)
	unknown.Add(7)
	b.Wait()
	text := out.String()
	if !strings.Contains(text, "3/10") {
		t.Errorf("known total: no 3/10 in %q", text)
	}
	if strings.Contains(text, "7/0") || !regexp.MustCompile(`unknown +7 `).MatchString(text) {
		t.Errorf("unknown total: want the count alone, got %q", text)
	}
}

// TestWaitPrintsLastLines: lines written through Writer just before Wait
// are printed, not dropped with mpb's render buffer (which was flushed only
// by the next refresh tick, which Wait cancelled), whether bars are
// running, finished or were never started (a fully cached run).
func TestWaitPrintsLastLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		bars func(b *Bars)
	}{
		{"no bars", func(*Bars) {}},
		{"running bar", func(b *Bars) { b.Start("s", "items", 10).Add(1) }},
		{"finished bar", func(b *Bars) {
			p := b.Start("s", "items", 10)
			p.Add(10)
			p.Done()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out syncBuffer
			b := New(&out)
			tc.bars(b)
			w := b.Writer()
			for i := range 3 {
				fmt.Fprintf(w, "log line %d\n", i)
			}
			b.Wait()
			text := out.String()
			for i := range 3 {
				if !strings.Contains(text, fmt.Sprintf("log line %d\n", i)) {
					t.Errorf("log line %d lost; output %q", i, text)
				}
			}
		})
	}
}

// TestAfterWait: after Wait, Start returns a reporter that draws nothing
// (it used to panic: mpb's AddBar after Shutdown), a bar's methods do
// nothing, lines written through Writer go straight to the output (they
// used to fail with mpb's ErrDone), and a second Wait does nothing.
func TestAfterWait(t *testing.T) {
	var out syncBuffer
	b := New(&out)
	early := b.Start("s", "early", 5)
	w := b.Writer()
	b.Wait()
	before := out.String()

	steps := []struct {
		name string
		do   func() error
	}{
		{"Start", func() error {
			p := b.Start("s", "late", 3)
			p.Add(1)
			p.SetTotal(4)
			p.Done()
			p.Done()
			return nil
		}},
		{"a bar started before Wait", func() error {
			early.Add(2)
			early.SetTotal(7)
			early.Done()
			return nil
		}},
		{"Writer", func() error {
			_, err := fmt.Fprintln(w, "after the bars")
			return err
		}},
		{"second Wait", func() error { b.Wait(); return nil }},
	}
	for _, s := range steps {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s after Wait panicked: %v", s.name, r)
				}
			}()
			if err := s.do(); err != nil {
				t.Errorf("%s after Wait: %v", s.name, err)
			}
		}()
	}
	if got := strings.TrimPrefix(out.String(), before); got != "after the bars\n" {
		t.Errorf("after Wait the output got %q, want only the line written through Writer", got)
	}
}

// TestDoneWhileDrawing: a bar's Done, SetTotal and Add racing the
// renderer drawing that very bar must not deadlock. Done used to hold the
// bar's lock while waiting for the bar's goroutine, which could be inside
// the counters decorator waiting for that lock. The redraws are as fast as
// the ticker allows, to make the race likely; the time limit only turns a
// hang into a failure.
func TestDoneWhileDrawing(t *testing.T) {
	var out syncBuffer
	b := newBars(&out, 50*time.Microsecond)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 1500 {
					p := b.Start(fmt.Sprint("g", g), "items", 0)
					p.Add(1)
					p.SetTotal(int64(i%3 + 2))
					p.Add(1)
					p.Done()
				}
			})
		}
		wg.Wait()
		b.Wait()
	}()
	select {
	case <-finished:
	case <-time.After(time.Minute):
		t.Fatal("bars deadlocked: Done, SetTotal or Add never returned")
	}
}

// TestTotalChanges: a bar follows SetTotal, also one that raises the total
// past the count (mpb completed the bar, and removed it, when the count
// reached the total it was started with), and it ends only on Done.
// (No refresh ticker: the frame Wait draws is the only one.)
func TestTotalChanges(t *testing.T) {
	for _, tc := range []struct {
		name  string
		total int64
		steps func(b *Bars, p pipeline.Progress)
		want  string
	}{
		{"raised past the start total", 10, func(b *Bars, p pipeline.Progress) {
			p.SetTotal(20)
			p.Add(10)
			b.drawn()
			p.Add(5)
		}, "15/20"},
		{"count reaches the total", 10, func(b *Bars, p pipeline.Progress) {
			p.Add(10)
		}, "10/10"},
		{"known later", 0, func(b *Bars, p pipeline.Progress) {
			p.Add(3)
			p.SetTotal(8)
			p.Add(1)
		}, "4/8"},
		{"lowered", 10, func(b *Bars, p pipeline.Progress) {
			p.SetTotal(6)
			p.Add(6)
		}, "6/6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out syncBuffer
			b := newBars(&out, 0)
			p := b.Start("stage", "items", tc.total)
			tc.steps(b, p)
			b.Wait()
			if text := out.String(); !strings.Contains(text, " "+tc.want+" ") {
				t.Errorf("last frame %q, want the count %s", text, tc.want)
			}
		})
	}
}

// drawn returns once a frame has been drawn completely (bars built with
// newBars(out, 0) draw only on request): mpb's listener takes a request
// only after the renderer accepted the previous one, which it does only
// after finishing the frame before.
func (b *Bars) drawn() {
	for range 3 {
		b.refresh <- time.Now()
	}
}

// TestHeadFitsWidth: the start of a bar's line keeps the count on the
// screen however narrow the terminal: fixed columns when the whole line
// fits, "stage label count" with the names cut otherwise (the fixed
// columns alone were 31 wide, so 20 columns cut the count off).
func TestHeadFitsWidth(t *testing.T) {
	for _, tc := range []struct {
		width int
		want  string
	}{
		{200, "features  images           3/10"},
		{40, "features images 3/10"},
		{20, "features images 3/10"},
		{16, "features i… 3/10"},
		{7, "f… 3/10"},
		{6, "3/10"},
		{3, "3/10"},
	} {
		p := &barProgress{}
		p.total.Store(10)
		got := p.head("features", "images", decor.Statistics{AvailableWidth: tc.width, Current: 3, Total: 10})
		if got != tc.want {
			t.Errorf("width %d: head %q, want %q", tc.width, got, tc.want)
		}
		if tc.width >= 5 && len([]rune(got)) > tc.width {
			t.Errorf("width %d: head %q is wider", tc.width, got)
		}
	}
}
