package pipeline_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"testing"

	"coderflow/pipeline"
)

// TestNaNMetricKeepsShards: a NaN metric does not fail the stage (JSON has
// no NaN; it used to fail the manifest after the shard markers were gone):
// it is named in the manifest info, and nothing is recomputed afterwards.
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
	res, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{})
	if err != nil {
		t.Fatalf("a NaN metric failed the stage: %v", err)
	}
	if got := fmt.Sprint(res.Artifacts["s"].Manifest.Info["metrics_not_finite"]); got != "[loss]" {
		t.Errorf("info metrics_not_finite = %s, want [loss]", got)
	}
	nan = false
	resetExec()
	h.run(pipeline.RunOptions{})
	if n := execCount("p0") + execCount("p1") + execCount("p2"); n != 0 {
		t.Errorf("second attempt recomputed %d of 3 shards", n)
	}
}
