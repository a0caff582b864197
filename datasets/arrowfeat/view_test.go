package arrowfeat_test

import (
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/memory"

	"coderflow/datasets/arrowfeat"
	"coderflow/datasets/table"
)

// TestViewChecksRowShapes reads shards whose rows disagree with their own
// n_regions and dim: NewView reports the image instead of handing out
// slices shorter than Boxes and Feats promise (the documented mean-pooling
// loop then indexed out of range).
func TestViewChecksRowShapes(t *testing.T) {
	good := featRow(1, 2, 3)
	tests := []struct {
		name string
		bad  table.FeatureRow
	}{
		{"short feats", table.FeatureRow{ImageID: 7, NRegions: 2, Dim: 3, Boxes: good.Boxes, Feats: good.Feats[:5]}},
		{"short boxes", table.FeatureRow{ImageID: 7, NRegions: 2, Dim: 3, Boxes: good.Boxes[:4], Feats: good.Feats}},
		{"dim too large", table.FeatureRow{ImageID: 7, NRegions: 2, Dim: 4, Boxes: good.Boxes, Feats: good.Feats}},
		{"negative regions", table.FeatureRow{ImageID: 7, NRegions: -2, Dim: -3, Boxes: nil, Feats: good.Feats}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "part-00000.parquet")
			if err := table.WriteFile(p, nil, table.Features, table.Options{}, []table.FeatureRow{good, tc.bad}); err != nil {
				t.Fatal(err)
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			r, err := arrowfeat.NewReader(mem, []string{p}, arrowfeat.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var viewErr error
			for {
				rec, err := r.Next(t.Context())
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if _, err := arrowfeat.NewView(rec); err != nil {
					viewErr = err
				}
				rec.Release()
			}
			if viewErr == nil || !strings.Contains(viewErr.Error(), "image 7") {
				t.Fatalf("NewView error %v, want one naming image 7", viewErr)
			}
		})
	}
}
