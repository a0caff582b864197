package evaluate

import (
	"context"
	"math"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
	"coderflow/train/eval"
)

// tiedEmbeddings writes n test images whose vectors repeat with period
// distinct (distinct = 1: every image and caption is the same vector, so
// every similarity ties), and captions equal to their image's vector.
var tiedEmbeddings = pipeline.Spec{
	Kind: "test.tied_embeddings", Version: "1",
	Params: []pipeline.Param{
		{Name: "n", Type: pipeline.Int, Default: 20},
		{Name: "distinct", Type: pipeline.Int, Default: 1},
	},
	Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		n, distinct := env.Params.Int("n"), env.Params.Int("distinct")
		const d = 4
		vec := func(k int) []float32 {
			// distinct unit vectors on a circle in the first two components
			a := 2 * math.Pi * float64(k) / float64(2*distinct)
			return []float32{float32(math.Cos(a)), float32(math.Sin(a)), 0, 0}[:d]
		}
		var imgs, caps []table.EmbeddingRow
		for i := range n {
			id := int64(i)
			v := vec(i % distinct)
			imgs = append(imgs, table.EmbeddingRow{ID: id, ImageID: id, Split: "test", Vec: v})
			for k := range 5 {
				caps = append(caps, table.EmbeddingRow{ID: 5*id + int64(k), ImageID: id, Ordinal: int32(k), Split: "test", Vec: v})
			}
		}
		for _, t := range []struct {
			name string
			rows []table.EmbeddingRow
		}{{table.ImageEmbeddings, imgs}, {table.CaptionEmbeddings, caps}} {
			if err := table.WriteFile(env.Path(t.name+".parquet"), env, t.name, table.Options{}, t.rows); err != nil {
				return err
			}
			env.AddTable(t.name, int64(len(t.rows)), t.name+".parquet")
		}
		return nil
	}),
}

// TestEvaluateTies: with exact ties (identical embeddings: the same photo
// under several ids) the stage's numbers are those of EVAL-PROTOCOL.md's
// rank definition with ties broken by index (a stable sort of the row or
// column), as the brute-force reference computes them; with folds, per
// fold.
func TestEvaluateTies(t *testing.T) {
	for _, tc := range []struct {
		name            string
		n, distinct     int
		folds, memBytes int
	}{
		{"all equal", 20, 1, 0, 0},
		{"all equal, folds", 20, 1, 2, 0},
		{"pairs", 20, 10, 0, 0},
		{"triples, small blocks", 30, 10, 3, 600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emb := pipelinetest.RunStage(t, &tiedEmbeddings, map[string]any{"n": tc.n, "distinct": tc.distinct})
			a := pipelinetest.RunStage(t, &Spec, map[string]any{"folds": tc.folds, "mem_budget": tc.memBytes}, emb)
			mf, err := eval.ReadMetricsFile(a.Dir)
			if err != nil {
				t.Fatal(err)
			}
			read := func(tab string) []table.EmbeddingRow {
				files, _ := emb.Table(tab)
				rows, err := table.ReadAll[table.EmbeddingRow](t.Context(), files...)
				if err != nil {
					t.Fatal(err)
				}
				return rows
			}
			want := bruteForce(t, read(table.ImageEmbeddings), read(table.CaptionEmbeddings), "test", 0.9, tc.folds)
			got := mf.Mean.Named()
			for k, nv := range want.Named() {
				if math.Abs(got[k].Value-nv.Value) > 1e-9 {
					t.Errorf("%s = %v, stable-sort reference %v", nv.Name, got[k].Value, nv.Value)
				}
			}
		})
	}
}
