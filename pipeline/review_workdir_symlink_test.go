package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"coderflow/pipeline"
)

// TestDataDirHoldingTheWorkdirThroughASymlink: the workdir inside a
// directory param is left out of its digest also when one of the two is
// named through a symlink (a data directory given as a link, a home or
// /tmp that is a link to another disk). The workdir used to be matched by
// path only: its run records, stat cache and artifacts entered the digest,
// the check after the stage saw them change, and the stage failed ("changed
// while the workflow ran") on every run.
func TestDataDirHoldingTheWorkdirThroughASymlink(t *testing.T) {
	for _, tc := range []struct {
		name string
		// param and workdir relative to the test dir; "link" is a
		// symlink to "data"
		param, workdir string
	}{
		{"data dir given through a link", "link", "data/.coderflow"},
		{"workdir given through a link", "data", "link/.coderflow"},
		{"both through the link", "link", "link/.coderflow"},
		{"neither", "data", "data/.coderflow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "")
			data := filepath.Join(h.dir, "data")
			if err := os.MkdirAll(data, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(data, filepath.Join(h.dir, "link")); err != nil {
				t.Skipf("no symlinks: %v", err)
			}
			img := filepath.Join(data, "img.txt")
			if err := os.WriteFile(img, []byte("pixels"), 0o644); err != nil {
				t.Fatal(err)
			}
			wf := fmt.Sprintf("name: toy\nstages:\n  a:\n    uses: toy.dirlist\n    with: {data: \"dir:%s\"}\n", filepath.Join(h.dir, tc.param))
			if err := os.WriteFile(h.file, []byte(wf), 0o644); err != nil {
				t.Fatal(err)
			}
			h.workdir = filepath.Join(h.dir, tc.workdir)
			h.reg.MustRegister(pipeline.Spec{
				Kind: "toy.dirlist", Version: "1",
				Params:   []pipeline.Param{{Name: "data", Type: pipeline.Path, Doc: "a directory"}},
				Produces: []string{"text"},
				Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
					countExec(env.StageID)
					if err := os.WriteFile(env.Path("out.txt"), []byte("listed"), 0o644); err != nil {
						return err
					}
					env.AddTable("text", 1, "out.txt")
					return nil
				}),
			})
			status := func(res *pipeline.Result) string {
				if res == nil || res.Record == nil {
					return "no run record"
				}
				return statuses(res)["a"]
			}
			for i, want := range []string{pipeline.RunRan, pipeline.RunCached} {
				res, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{})
				if err != nil || status(res) != want {
					t.Fatalf("run %d: stage a %s, %v; want %s", i+1, status(res), err, want)
				}
			}
			// a change of the data itself is still seen
			if err := os.WriteFile(img, []byte("other pixels"), 0o644); err != nil {
				t.Fatal(err)
			}
			if res, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{}); err != nil || status(res) != pipeline.RunRan {
				t.Fatalf("after the data changed: stage a %s, %v; want ran", status(res), err)
			}
			if n := execCount("a"); n != 2 {
				t.Fatalf("stage a ran %d times, want 2", n)
			}
		})
	}
}
