package pqinspect_test

import (
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/internal/pqinspect"
)

func TestDescribeAndHead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.parquet")
	rows := make([]table.FeatureRow, 10)
	for i := range rows {
		rows[i] = table.FeatureRow{ImageID: int64(i), NRegions: 2, Dim: 50, Boxes: make([]float32, 8), Feats: make([]float32, 100)}
	}
	if err := table.WriteFile(p, nil, table.Features, table.Options{RowGroupRows: 4, Meta: map[string]string{"dim": "50"}}, rows); err != nil {
		t.Fatal(err)
	}
	info, err := pqinspect.Describe(p)
	if err != nil {
		t.Fatal(err)
	}
	if info.Rows != 10 || len(info.RowGroups) != 3 || info.RowGroups[0].Rows != 4 {
		t.Fatalf("rows %d, row groups %+v", info.Rows, info.RowGroups)
	}
	if info.Meta["dim"] != "50" || info.Meta[table.MetaTable] != table.Features {
		t.Fatalf("meta %v", info.Meta)
	}
	if info.RowGroups[0].Columns[0].Codec != "ZSTD" || !strings.Contains(info.Schema, "feats (LIST)") {
		t.Fatalf("columns %+v schema %s", info.RowGroups[0].Columns, info.Schema)
	}
	head, err := pqinspect.Head(p, 3, 5)
	if err != nil || len(head) != 3 {
		t.Fatalf("head: %v %d", err, len(head))
	}
	feats := head[2]["feats"].([]any)
	if len(feats) != 6 || !strings.Contains(feats[5].(string), "100 items") {
		t.Fatalf("abbreviated list: %v", feats)
	}
	if _, err := pqinspect.Describe(filepath.Join(t.TempDir(), "missing.parquet")); err == nil {
		t.Fatal("want an error for a missing file")
	}
}
