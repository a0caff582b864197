package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"coderflow/pipeline"
)

// TestDataDirHoldingTheWorkdir: a directory param whose tree holds the
// workdir (`cd ~/flickr8k && coderflow run wf.yaml --set
// data.source=dir:.` with the default workdir .coderflow) must not digest
// the workdir: its lock, stat cache, run records, work directories and
// artifacts change with every run, so the stage's key changed every time
// (a rerun with nothing changed ran it again), and a check of the digest
// after the stage would see its own output.
func TestDataDirHoldingTheWorkdir(t *testing.T) {
	h := newHarness(t, "name: toy\nstages:\n  a:\n    uses: toy.dirread\n    with: {data: dir:.}\n")
	h.workdir = filepath.Join(h.dir, ".coderflow")
	if err := os.WriteFile(filepath.Join(h.dir, "img.txt"), []byte("pixels"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.reg.MustRegister(pipeline.Spec{
		Kind: "toy.dirread", Version: "1",
		Params:   []pipeline.Param{{Name: "data", Type: pipeline.Path, Doc: "a directory"}},
		Produces: []string{"text"},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			countExec(env.StageID)
			b, err := os.ReadFile(filepath.Join(env.Params.Path("data")[len("dir:"):], "img.txt"))
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
	h.run(pipeline.RunOptions{})
	res := h.run(pipeline.RunOptions{})
	if got := statuses(res)["a"]; got != pipeline.RunCached {
		t.Fatalf("second run with nothing changed: stage a %s, want cached", got)
	}
	if n := execCount("a"); n != 1 {
		t.Fatalf("stage a ran %d times, want 1", n)
	}
	// a change of the data itself is still seen
	if err := os.WriteFile(filepath.Join(h.dir, "img.txt"), []byte("other pixels"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := statuses(h.run(pipeline.RunOptions{}))["a"]; got != pipeline.RunRan {
		t.Fatalf("after the data changed: stage a %s, want ran", got)
	}
}
