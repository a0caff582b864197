// Package pipelinetest helps stage authors test a stage on its own: run it
// into a temporary directory and get the sealed artifact back, to feed as an
// input to the next stage under test.
package pipelinetest

import (
	"log/slog"
	"path/filepath"
	"testing"

	"coderflow/pipeline"
)

// RunStage runs spec with raw params and inputs in a fresh temporary
// directory and returns the sealed artifact. It fails the test on error.
func RunStage(t testing.TB, spec *pipeline.Spec, raw map[string]any, inputs ...*pipeline.Artifact) *pipeline.Artifact {
	t.Helper()
	a, err := RunStageErr(t, spec, raw, inputs...)
	if err != nil {
		t.Fatalf("run %s: %v", spec.Kind, err)
	}
	return a
}

// RunStageErr is RunStage returning the error instead of failing the test.
func RunStageErr(t testing.TB, spec *pipeline.Spec, raw map[string]any, inputs ...*pipeline.Artifact) (*pipeline.Artifact, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "artifact")
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return pipeline.RunStandalone(t.Context(), spec, spec.Kind, raw, inputs, dir, log)
}

// Lookup returns the spec of kind from the default registry or fails.
func Lookup(t testing.TB, kind string) *pipeline.Spec {
	t.Helper()
	s, ok := pipeline.Default.Lookup(kind)
	if !ok {
		t.Fatalf("stage kind %q is not registered", kind)
	}
	return s
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}
