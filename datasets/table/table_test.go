package table_test

import (
	"context"
	"path/filepath"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

func TestRoundTripThroughStage(t *testing.T) {
	spec := &pipeline.Spec{
		Kind: "test.captions", Version: "1",
		Params:   []pipeline.Param{{Name: "n", Type: pipeline.Int, Default: 10}},
		Produces: []string{table.Captions},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			n := env.Params.Int("n")
			rows := make([]table.CaptionRow, n)
			for i := range rows {
				rows[i] = table.CaptionRow{CaptionID: int64(i), ImageID: int64(i / 5), Split: "train", Ordinal: int32(i % 5), Text: "a dog"}
			}
			if err := table.WriteFile(env.Path("captions.parquet"), env, table.Captions, table.Options{}, rows); err != nil {
				return err
			}
			env.AddTable(table.Captions, int64(n), "captions.parquet")
			return nil
		}),
	}
	a := pipelinetest.RunStage(t, spec, map[string]any{"n": 12})
	files, ok := a.Table(table.Captions)
	if !ok || len(files) != 1 || a.TableRows(table.Captions) != 12 {
		t.Fatalf("table not declared: %+v", a.Manifest.Tables)
	}
	rows, err := table.ReadAll[table.CaptionRow](t.Context(), files...)
	if err != nil || len(rows) != 12 || rows[11].ImageID != 2 {
		t.Fatalf("read back: %v %+v", err, rows)
	}
	meta, err := table.ReadMeta(files[0])
	if err != nil || meta[table.MetaKey] != a.Key() || meta[table.MetaTable] != table.Captions {
		t.Fatalf("meta: %v %v", err, meta)
	}
	if filepath.Base(files[0]) != "captions.parquet" {
		t.Fatal(files)
	}
}
