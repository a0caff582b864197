package pipeline

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestLogProgressEndLine checks the last log line of a unit of work: it says
// finished when every item was done and stopped (without an ETA) when the
// work ended early, as after Ctrl-C.
func TestLogProgressEndLine(t *testing.T) {
	for _, tc := range []struct {
		done, total int64
		want        string
	}{
		{620, 620, "msg=finished"},
		{140, 620, "msg=stopped"},
		{140, 0, "msg=finished"}, // total unknown
	} {
		var buf bytes.Buffer
		p := newLogProgress(slog.New(slog.NewTextHandler(&buf, nil)), "batches", tc.total).(*logProgress)
		p.start = time.Now().Add(-time.Minute) // long enough to log an end line
		p.Add(tc.done)
		p.Done()
		out := buf.String()
		if !strings.Contains(out, tc.want) || (tc.want == "msg=stopped" && strings.Contains(out, "eta=")) {
			t.Errorf("%d of %d: end line %q, want %s", tc.done, tc.total, out, tc.want)
		}
	}
}
