package arrowfeat

import (
	"fmt"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
)

// View gives zero-copy, typed access to the rows of one batch returned by
// [Reader.Next]. Its slices alias the batch's buffers: they are valid while
// the batch is retained and must not be modified.
type View struct {
	IDs      []int64 // image_id per row
	NRegions []int32 // n_regions per row
	Dim      []int32 // dim per row
	boxes    *array.List
	feats    *array.List
	bv, fv   []float32
}

// NewView checks that rec has the feature columns and that every row has
// n_regions*4 box and n_regions*dim feature values, and wraps it.
func NewView(rec arrow.Record) (*View, error) {
	if int(rec.NumCols()) != len(Columns) {
		return nil, fmt.Errorf("arrowfeat: batch has %d columns, want %v", rec.NumCols(), Columns)
	}
	ids, ok1 := rec.Column(0).(*array.Int64)
	nr, ok2 := rec.Column(1).(*array.Int32)
	dm, ok3 := rec.Column(2).(*array.Int32)
	bx, ok4 := rec.Column(3).(*array.List)
	ft, ok5 := rec.Column(4).(*array.List)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return nil, fmt.Errorf("arrowfeat: batch columns have unexpected types: %s", rec.Schema())
	}
	bv, ok6 := bx.ListValues().(*array.Float32)
	fv, ok7 := ft.ListValues().(*array.Float32)
	if !(ok6 && ok7) {
		return nil, fmt.Errorf("arrowfeat: list columns are not float32: %s", rec.Schema())
	}
	v := &View{IDs: ids.Int64Values(), NRegions: nr.Int32Values(), Dim: dm.Int32Values(),
		boxes: bx, feats: ft, bv: bv.Float32Values(), fv: fv.Float32Values()}
	// Boxes(i) and Feats(i) promise n_regions*4 and n_regions*dim values:
	// a row that breaks it (a damaged or hand-made shard) is an error here,
	// not an index out of range in the caller's loop over regions.
	for i := range v.Len() {
		n, dim := int64(v.NRegions[i]), int64(v.Dim[i])
		bs, be := bx.ValueOffsets(i)
		fs, fe := ft.ValueOffsets(i)
		if n < 0 || dim < 0 || be-bs != 4*n || fe-fs != n*dim {
			return nil, fmt.Errorf("arrowfeat: image %d: n_regions %d, dim %d, but %d box and %d feature values (want %d and %d)",
				v.IDs[i], n, dim, be-bs, fe-fs, 4*n, n*dim)
		}
	}
	return v, nil
}

// Len is the number of rows.
func (v *View) Len() int { return len(v.IDs) }

// Boxes returns row i's n_regions*4 normalised box coordinates.
func (v *View) Boxes(i int) []float32 {
	s, e := v.boxes.ValueOffsets(i)
	return v.bv[s:e:e]
}

// Feats returns row i's n_regions*dim feature values, region-major.
func (v *View) Feats(i int) []float32 {
	s, e := v.feats.ValueOffsets(i)
	return v.fv[s:e:e]
}
