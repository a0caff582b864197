package termprogress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
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
// is not known yet shows the count alone, not "n/0".
func TestCounters(t *testing.T) {
	var out syncBuffer
	b := New(&out)
	known := b.Start("stage", "known", 10)
	unknown := b.Start("stage", "unknown", 0)
	known.Add(3)
	unknown.Add(7)
	time.Sleep(300 * time.Millisecond) // a few refreshes
	text := out.String()
	known.Done()
	unknown.Done()
	b.Wait()
	if !strings.Contains(text, "3/10") {
		t.Errorf("known total: no 3/10 in %q", text)
	}
	if strings.Contains(text, "7/0") || !strings.Contains(text, "unknown") {
		t.Errorf("unknown total: want the count alone, got %q", text)
	}
	if !strings.Contains(text, " 7 ") && !strings.Contains(text, " 7\t") && !strings.Contains(text, "7 ") {
		t.Errorf("unknown total: no count 7 in %q", text)
	}
}
