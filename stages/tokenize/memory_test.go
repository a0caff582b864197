package tokenize

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/internal/testenv"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// manyCaptions returns an artifact with n captions of 5 to 16 words drawn
// from a fixed 400-word vocabulary, written in files of 10,000 rows (the
// rows are generated per file, so the test process never holds them all).
func manyCaptions(t *testing.T, n int) *pipeline.Artifact {
	t.Helper()
	words := make([]string, 400)
	for i := range words {
		words[i] = fmt.Sprintf("w%03d", i)
	}
	spec := &pipeline.Spec{
		Kind: "test.many_captions", Version: "1", Produces: []string{table.Captions},
		Params: []pipeline.Param{{Name: "n", Type: pipeline.Int, Default: 0}},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			r := rand.New(rand.NewPCG(1, 2))
			const per = 10_000
			for lo := 0; lo < n; lo += per {
				rows := make([]table.CaptionRow, 0, per)
				for id := lo; id < min(lo+per, n); id++ {
					var b strings.Builder
					for k := range 5 + r.IntN(12) {
						if k > 0 {
							b.WriteByte(' ')
						}
						b.WriteString(words[r.IntN(len(words))])
					}
					split := []string{"train", "train", "train", "dev", "test"}[id%5]
					rows = append(rows, table.CaptionRow{CaptionID: int64(id), ImageID: int64(id / 5), Split: split,
						Ordinal: int32(id % 5), Text: b.String()})
				}
				name := fmt.Sprintf("captions-%05d.parquet", lo/per)
				if err := table.WriteFile(env.Path(name), env, table.Captions, table.Options{}, rows); err != nil {
					return err
				}
				env.AddTable(table.Captions, int64(len(rows)), name)
			}
			return nil
		}),
	}
	return pipelinetest.RunStage(t, spec, map[string]any{"n": n})
}

// TestStageMemoryBounded checks the package doc's claim that the stage's
// memory is bounded by the vocabulary and a few batches per worker, not by
// the number of captions: on 8 times the captions (same vocabulary) its
// live heap may not grow by more than half as much again plus 8 MB.
func TestStageMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("memory test: skipped with -short")
	}
	growth := func(n int) uint64 {
		in := manyCaptions(t, n)
		// The output is written with snappy, and two collections (this
		// one and HeapGrowth's) empty the sync.Pools that writing the
		// input left behind: with zstd the run's growth varied between 2
		// and 40 MB for the same input, with whether the zstd encoders'
		// windows were pooled, allocated afresh or caught by a sample,
		// and the test failed at random; with snappy it is 4-6 MB for 20k
		// to 320k captions.
		runtime.GC()
		return testenv.HeapGrowth(func() {
			pipelinetest.RunStage(t, &Spec, map[string]any{"workers": 2, "compression": "snappy"}, in)
		})
	}
	small, large := growth(20_000), growth(160_000)
	t.Logf("live heap growth: %.1f MB for 20k captions, %.1f MB for 160k", float64(small)/(1<<20), float64(large)/(1<<20))
	if large > small*3/2+8<<20 {
		t.Errorf("live heap grew by %.1f MB for 160k captions against %.1f MB for 20k: memory grows with the data set",
			float64(large)/(1<<20), float64(small)/(1<<20))
	}
}
