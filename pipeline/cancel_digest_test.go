package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"coderflow/pipeline"
)

// TestInterruptStopsTheFirstDigest checks that an interrupted run stops
// while it digests external files (the first digest of a large data
// directory can take minutes, before any stage starts), and that a key
// check with a canceled context reads nothing and says why it stopped.
func TestInterruptStopsTheFirstDigest(t *testing.T) {
	h := newHarness(t, `
name: big
stages:
  a:
    uses: toy.source
    with: {file: dir:data}
`)
	data := filepath.Join(h.dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := os.WriteFile(filepath.Join(data, fmt.Sprintf("f%02d.bin", i)), []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancelCause(t.Context())
	stop := errors.New("interrupt signal received")
	cancel(stop)

	dg := pipeline.NewDigester("")
	if _, err := h.load().StatesContext(ctx, dg); !errors.Is(err, stop) {
		t.Fatalf("key check with a canceled context: %v, want the cancellation cause", err)
	}
	if dg.Reads != 0 {
		t.Errorf("a canceled key check read %d files", dg.Reads)
	}

	res, err := pipeline.Run(ctx, h.load(), pipeline.RunOptions{})
	if !errors.Is(err, stop) || res != nil {
		t.Fatalf("run with a canceled context: %v, %v", res, err)
	}
	var se *pipeline.SpecError
	if errors.As(err, &se) {
		t.Errorf("an interrupt reported as a workflow error (exit 2): %v", err)
	}
	if _, err := os.Stat(pipeline.StatCachePath(h.workdir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a canceled run digested the data directory (stat cache: %v)", err)
	}
}
