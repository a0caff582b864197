package pipeline_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// deepReaderRegistry is the toy registry plus a kind that reads a table
// written two stages up, through a cached input (as train reads the
// captions of the data stage through tokens):
//
//	toy.root    writes the tables text and root
//	toy.reader  copies the nearest upstream root table
func deepReaderRegistry() *pipeline.Registry {
	r := toyRegistry()
	r.MustRegister(pipeline.Spec{
		Kind: "toy.root", Version: "1", Doc: "Writes the text and root tables.", Produces: []string{"text", "root"},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			countExec(env.StageID)
			if err := os.WriteFile(env.Path("out.txt"), []byte("root"), 0o644); err != nil {
				return err
			}
			env.AddTable("text", 1, "out.txt")
			env.AddTable("root", 1, "out.txt")
			return nil
		}),
	})
	r.MustRegister(pipeline.Spec{
		Kind: "toy.reader", Version: "1", Doc: "Copies the nearest upstream root table.", Produces: []string{"copy"},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			countExec(env.StageID)
			return copyTable(env, "root")
		}),
	})
	return r
}

// TestRunningStageGetsItsWholeInputChain removes the artifact of a stage two
// levels above a stage that reruns (the input in between stays cached):
// --from and --force must rerun the missing ancestor so the stage can read
// through its inputs, and --only must refuse, naming it, instead of running
// the stage with a truncated input chain.
func TestRunningStageGetsItsWholeInputChain(t *testing.T) {
	h := newHarness(t, `
name: deep
stages:
  a:
    uses: toy.root
  b:
    uses: toy.concat
    needs: [a]
  c:
    uses: toy.reader
    needs: [b]
`)
	h.reg = deepReaderRegistry()
	res := h.run(pipeline.RunOptions{})
	wantStatuses(t, res, map[string]string{"a": "ran", "b": "ran", "c": "ran"})
	aDir := res.Artifacts["a"].Dir

	for _, tc := range []struct {
		name string
		opt  pipeline.RunOptions
	}{
		{"from", pipeline.RunOptions{From: "c"}},
		{"force", pipeline.RunOptions{Force: []string{"c"}}},
		{"until+force", pipeline.RunOptions{Until: "c", Force: []string{"c"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.RemoveAll(aDir); err != nil {
				t.Fatal(err)
			}
			res, err := pipeline.Run(t.Context(), h.load(), tc.opt)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			wantStatuses(t, res, map[string]string{"a": "ran", "b": "cached", "c": "ran"})
			b, err := os.ReadFile(res.Artifacts["c"].Path("copy.txt"))
			if err != nil || string(b) != "root" {
				t.Fatalf("c read %q, %v", b, err)
			}
		})
	}

	if err := os.RemoveAll(aDir); err != nil {
		t.Fatal(err)
	}
	resetExec()
	_, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{Only: []string{"c"}, Force: []string{"c"}})
	if !errors.Is(err, pipeline.ErrNotCached) || !strings.Contains(err.Error(), `stage "a" is missing`) {
		t.Fatalf("--only with a missing ancestor: %v", err)
	}
	if n := execCount("c"); n != 0 {
		t.Fatalf("c ran %d times with its ancestor missing", n)
	}

	// a table no upstream stage writes: the error names the stage once
	h.reg.MustRegister(pipeline.Spec{Kind: "toy.lost", Version: "1", Doc: "Reads a table nobody writes.",
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			_, _, err := env.InputTable("nothing")
			return err
		})})
	if err := os.WriteFile(h.file, []byte("stages:\n  a:\n    uses: toy.root\n  lost:\n    uses: toy.lost\n    needs: [a]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{})
	if !errors.Is(err, pipeline.ErrNoInput) || strings.Count(err.Error(), `stage "lost"`) != 1 {
		t.Fatalf("missing table: %v", err)
	}
}
