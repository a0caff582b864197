package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"coderflow/pipeline"
)

// --force on one of two stages that share a key replaces the shared artifact
// directory while a stage reading it through the other one runs.
func TestForceWithSameKeySibling(t *testing.T) {
	r := toyRegistry()
	r.MustRegister(pipeline.Spec{Kind: "toy.many", Version: "1", Produces: []string{"many"}, Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		var files []string
		for i := range 3000 {
			f := fmt.Sprintf("d/f%04d", i)
			os.WriteFile(env.Path(f), []byte("x"), 0o644)
			files = append(files, f)
		}
		env.AddTable("many", 3000, files...)
		return nil
	})})
	r.MustRegister(pipeline.Spec{Kind: "toy.reader", Version: "1", Params: []pipeline.Param{{Name: "v", Type: pipeline.Int, Default: 1}},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			files, _, err := env.InputTable("many")
			if err != nil {
				return err
			}
			end := time.Now().Add(1500 * time.Millisecond)
			for i := 0; time.Now().Before(end); i++ {
				if _, err := os.ReadFile(files[i%len(files)]); err != nil {
					return err
				}
			}
			return os.WriteFile(env.Path("ok"), nil, 0o644)
		})})
	h := newHarness(t, "name: f\nstages:\n  a1:\n    uses: toy.many\n  a2:\n    uses: toy.many\n  b2:\n    uses: toy.reader\n    needs: [a2]\n")
	h.reg = r
	h.run(pipeline.RunOptions{})
	res, err := pipeline.Run(t.Context(), h.load("b2.v=2"), pipeline.RunOptions{Force: []string{"a1"}, Jobs: 4})
	t.Logf("statuses %v err %v", statuses(res), err)
	if err != nil {
		t.Errorf("b2 failed while a1 (--force, same key as a2) replaced the shared artifact: %v", err)
	}
}
