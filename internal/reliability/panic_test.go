package reliability

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// panickingStage is a stage with a bug: it panics.
func panickingStage(context.Context, *pipeline.Env) error {
	var m map[string]int
	m["x"]++ // assignment to entry in nil map
	return nil
}

// TestPanicStackInDebugLog: a stage that panics fails with an error that
// names the stage and says where the stack trace went, and the stack trace
// (naming the panicking function) is in the debug log, which `coderflow
// -v` shows (finding 8: the recovered panic used to lose it). The engine is
// called in-process here: no stage of the coderflow binary panics on
// purpose.
func TestPanicStackInDebugLog(t *testing.T) {
	spec := &pipeline.Spec{Kind: "test.panic", Version: "1", Stage: pipeline.StageFunc(panickingStage)}
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, err := pipeline.RunStandalone(t.Context(), spec, "boom", nil, nil, filepath.Join(t.TempDir(), "a"), log)
	if err == nil {
		t.Fatal("a panicking stage returned no error")
	}
	for _, w := range []string{`stage "boom" panicked: assignment to entry in nil map`, "(stack trace in the debug log, -v)"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if l := logBuf.String(); !strings.Contains(l, "level=DEBUG msg=panic") || !strings.Contains(l, "reliability.panickingStage") {
		t.Errorf("the debug log lacks the panic's stack trace (naming reliability.panickingStage):\n%s", l)
	}
}
