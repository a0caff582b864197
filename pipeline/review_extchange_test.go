package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"coderflow/pipeline"
)

// TestExternalFileChangedDuringRun: the key is computed from a Path param's
// content before the stages run; if the file is edited after that (while
// an upstream stage runs, or while this one runs), the stage reads the new
// content. Its output must not be cached under the key of the old content:
// once the file is back to that content, the stage would be found cached
// with an output computed from other data.
func TestExternalFileChangedDuringRun(t *testing.T) {
	h := newHarness(t, "name: toy\nstages:\n  a:\n    uses: toy.editing\n    with: {file: data.txt}\n")
	data := filepath.Join(h.dir, "data.txt")
	if err := os.WriteFile(data, []byte("old content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var edits atomic.Int32
	h.reg.MustRegister(pipeline.Spec{
		Kind: "toy.editing", Version: "1",
		Params:   []pipeline.Param{{Name: "file", Type: pipeline.Path, Doc: "read"}},
		Produces: []string{"text"},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			if edits.Add(1) == 1 { // the user edits the file once the keys are computed
				if err := os.WriteFile(data, []byte("NEW content, longer\n"), 0o644); err != nil {
					return err
				}
			}
			b, err := os.ReadFile(env.Params.Path("file"))
			if err != nil {
				return err
			}
			if err := os.WriteFile(env.Path("out.txt"), b, 0o644); err != nil {
				return err
			}
			env.AddTable("text", 1, "out.txt")
			return nil
		}),
	})
	_, runErr := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{})
	if runErr == nil || !strings.Contains(runErr.Error(), "changed while") {
		t.Errorf("run with its input edited under it: err = %v, want an error saying the file changed", runErr)
	}
	// the param is named as validation names it
	if runErr != nil && !strings.Contains(runErr.Error(), `stage "a": with.file: `) {
		t.Errorf("err = %v, want it to name the param as with.file", runErr)
	}
	// back to the content the key was computed from
	if err := os.WriteFile(data, []byte("old content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	states, err := h.load().States(pipeline.NewDigester(pipeline.StatCachePath(h.workdir)))
	if err != nil {
		t.Fatal(err)
	}
	if s := states[0]; s.Status == pipeline.StatusCached {
		out, _ := os.ReadFile(filepath.Join(s.Dir, "out.txt"))
		if string(out) != "old content\n" {
			t.Fatalf("stage cached for the old content with an output computed from the new one: %q", out)
		}
	}
	// and a rerun now makes the right artifact
	res, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := os.ReadFile(res.Artifacts["a"].Path("out.txt")); string(out) != "old content\n" {
		t.Fatalf("rerun output %q", out)
	}
}
