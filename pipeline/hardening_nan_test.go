package pipeline_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"testing"

	"coderflow/pipeline"
)

// A NaN metric fails the stage only when the manifest is encoded, after
// seal deleted the shard markers: the next attempt redoes every shard.
func TestNaNMetricKeepsShards(t *testing.T) {
	r := toyRegistry()
	nan := true
	r.MustRegister(pipeline.Spec{Kind: "toy.nan", Version: "1", Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		var files []string
		for i := range 3 {
			name := fmt.Sprintf("p%d", i)
			files = append(files, name)
			if env.ShardDone(name) {
				continue
			}
			countExec(name)
			os.WriteFile(env.Path(name), []byte(name), 0o644)
			env.CommitShard(name, name)
		}
		env.AddTable("t", 3, files...)
		if nan {
			env.SetMetric("loss", math.NaN())
		}
		return nil
	})})
	h := newHarness(t, "name: n\nstages:\n  s:\n    uses: toy.nan\n")
	h.reg = r
	_, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{})
	t.Logf("first attempt: %v", err)
	nan = false
	resetExec()
	h.run(pipeline.RunOptions{})
	t.Logf("second attempt recomputed %d of 3 committed shards", execCount("p0")+execCount("p1")+execCount("p2"))
}
