package train

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"

	"coderflow/datasets/arrowfeat"
)

// featShape is the per-image input of the model: Regions x Dim floats.
type featShape struct {
	Regions int // model regions per image (1 when regions are mean-pooled by the loader)
	Dim     int // region feature dimension
	Data    int // regions per image in the data (of the first row)
	// Mean: the loader averages each image's regions (pooling=mean;
	// Regions is 1). Otherwise (pooling=attn) an image keeps its first
	// Regions regions, also when Regions is 1 (a first row of 1 region).
	Mean bool
}

func (s featShape) floats() int { return s.Regions * s.Dim }

// imgFeats are one image's converted features: x (featShape.floats()
// values) and the number of its real regions among x's Regions (the rest
// is zero padding, which the model leaves out: coder.Batch.RegionCounts).
type imgFeats struct {
	x []float32
	n int32
}

// regionCounts returns the batch's RegionCounts buffer for B images: nil
// when the model's images are single pre-pooled rows (always real).
func (s featShape) regionCounts(B int) []int32 {
	if s.Regions == 1 {
		return nil
	}
	return make([]int32, B)
}

// featCounts are the adjustments made while converting features.
type featCounts struct {
	RegionsPadded    int64 `json:"images_regions_padded"`
	RegionsTruncated int64 `json:"images_regions_truncated"`
}

// featRow is one image's raw features, valid only during the callback.
type featRow struct {
	id    int64
	n     int
	dim   int
	feats []float32
	at    int64 // row in the pass over the files
}

// readerOptions bound the Arrow reader's memory.
func readerOptions(budget int64) arrowfeat.Options {
	return arrowfeat.Options{BatchRows: 256, MemoryBudget: min(max(budget/4, 16<<20), 256<<20)}
}

// eachFeature streams the feature shards in the given order and calls fn for
// every row. The row's feats alias Arrow memory that is released after fn
// returns. A *featureError (a malformed row, or one returned by fn) gets the
// shard file and the row in it.
func eachFeature(ctx context.Context, files []string, opt arrowfeat.Options, fn func(featRow) error) error {
	r, err := arrowfeat.NewReader(memory.DefaultAllocator, files, opt)
	if err != nil {
		return fmt.Errorf("features: %w", err)
	}
	defer r.Close()
	var base int64 // rows before rec in this pass
	for {
		rec, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("features: %w", err)
		}
		err = eachRow(rec, base, fn)
		base += rec.NumRows()
		rec.Release()
		if err != nil {
			return placeError(files, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// featureError is bad data in one image's feature row. eachRow records
// the row's position in the pass; eachFeature turns it into the shard file
// and the row in that file.
type featureError struct {
	msg  string // names the image
	at   int64  // row in the pass over the files, -1 when not known
	file string // shard, "" when not known
	row  int64  // row in file
}

func badFeatures(format string, args ...any) *featureError {
	return &featureError{msg: fmt.Sprintf(format, args...), at: -1}
}

func (e *featureError) Error() string {
	if e.file == "" {
		return "features: " + e.msg
	}
	return fmt.Sprintf("features: %s (shard %s, row %d)", e.msg, e.file, e.row)
}

// placeError fills in the shard file of a *featureError in err. The
// Reader hands out the rows in file order, so the file is found from the
// files' row counts (their Parquet footers, read only on this error path).
func placeError(files []string, err error) error {
	var fe *featureError
	if errors.As(err, &fe) && fe.file == "" && fe.at >= 0 {
		fe.file, fe.row = shardOfRow(files, fe.at)
	}
	return err
}

// shardOfRow returns the file holding row at of a pass over files in
// order, and the row in it ("" when a footer cannot be read).
func shardOfRow(files []string, at int64) (string, int64) {
	for _, path := range files {
		n, err := parquetRows(path)
		if err != nil {
			return "", 0
		}
		if at < n {
			return path, at
		}
		at -= n
	}
	return "", 0
}

func parquetRows(path string) (int64, error) {
	pr, err := file.OpenParquetFile(path, false)
	if err != nil {
		return 0, err
	}
	defer pr.Close()
	return pr.NumRows(), nil
}

func column(rec arrow.Record, name string) (arrow.Array, error) {
	idx := rec.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return nil, fmt.Errorf("features: batch has no column %q", name)
	}
	return rec.Column(idx[0]), nil
}

// eachRow calls fn for the rows of rec, the rows from base on of the pass;
// a *featureError gets its position in the pass.
func eachRow(rec arrow.Record, base int64, fn func(featRow) error) error {
	var cols [4]arrow.Array
	for i, name := range []string{"image_id", "n_regions", "dim", "feats"} {
		c, err := column(rec, name)
		if err != nil {
			return err
		}
		cols[i] = c
	}
	ids, ok1 := cols[0].(*array.Int64)
	ns, ok2 := cols[1].(*array.Int32)
	dims, ok3 := cols[2].(*array.Int32)
	feats, ok4 := cols[3].(*array.List)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return fmt.Errorf("features: unexpected column types %v", rec.Schema())
	}
	vals, ok := feats.ListValues().(*array.Float32)
	if !ok {
		return fmt.Errorf("features: feats is not list<float32>")
	}
	all := vals.Float32Values()
	for i := range int(rec.NumRows()) {
		s, e := feats.ValueOffsets(i)
		row := featRow{id: ids.Value(i), n: int(ns.Value(i)), dim: int(dims.Value(i)), feats: all[s:e], at: base + int64(i)}
		if row.n <= 0 || row.dim <= 0 || len(row.feats) != row.n*row.dim {
			fe := badFeatures("image %d: n_regions %d x dim %d does not match %d values", row.id, row.n, row.dim, len(row.feats))
			fe.at = base + int64(i)
			return fe
		}
		if err := fn(row); err != nil {
			var fe *featureError
			if errors.As(err, &fe) && fe.at < 0 && fe.file == "" {
				fe.at = base + int64(i)
			}
			return err
		}
	}
	return nil
}

// probeFeatures returns the regions, dim and image id of the first feature row.
func probeFeatures(ctx context.Context, files []string) (n, dim int, id int64, err error) {
	errStop := errors.New("stop")
	err = eachFeature(ctx, files, arrowfeat.Options{BatchRows: 1, MemoryBudget: 16 << 20}, func(r featRow) error {
		n, dim, id = r.n, r.dim, r.id
		return errStop
	})
	if errors.Is(err, errStop) {
		return n, dim, id, nil
	}
	if err == nil {
		err = fmt.Errorf("features: the table has no rows")
	}
	return 0, 0, 0, err
}

// convert writes the model input of row into dst (len s.floats()) and
// returns it with its count of real regions: the mean of its regions when
// s.Mean (count 1), otherwise its first s.Regions regions; an image
// with fewer gets zero padding after them, which the model leaves out of
// its pooling (coder.Batch.RegionCounts). A NaN or infinite value
// among those it uses is an error naming the image and the value (checked
// on dst, which a NaN or infinity reaches, so valid rows cost one pass over
// dst).
func (s featShape) convert(r featRow, dst []float32, cnt *featCounts) (imgFeats, error) {
	if r.dim != s.Dim {
		return imgFeats{}, badFeatures("image %d has dim %d, the first image has %d", r.id, r.dim, s.Dim)
	}
	d := s.Dim
	if s.Mean {
		clear(dst)
		for k := range r.n {
			row := r.feats[k*d : (k+1)*d]
			for j, v := range row {
				dst[j] += v
			}
		}
		inv := 1 / float32(r.n)
		for j := range dst {
			dst[j] *= inv
		}
		if !allFinite(dst) {
			return imgFeats{}, nonFinite(r)
		}
		return imgFeats{dst, 1}, nil
	}
	switch {
	case r.n > s.Regions:
		cnt.RegionsTruncated++
	case r.n < s.Regions:
		cnt.RegionsPadded++
	}
	n := min(r.n, s.Regions)
	copy(dst, r.feats[:n*d])
	clear(dst[n*d:])
	if !allFinite(dst) {
		return imgFeats{}, nonFinite(r)
	}
	return imgFeats{dst, int32(n)}, nil
}

// allFinite reports whether no value of v is NaN or infinite (x*0 is 0
// for finite x and NaN otherwise).
func allFinite(v []float32) bool {
	var z float32
	for _, x := range v {
		z += x * 0
	}
	return z == 0
}

// nonFinite is the error for a row whose converted features are not
// finite: its first NaN or infinite value, or (all values finite) the sum
// of its regions overflowing float32.
func nonFinite(r featRow) error {
	for i, v := range r.feats {
		if v-v != 0 {
			return badFeatures("image %d: value %d (region %d, element %d) is %v", r.id, i, i/r.dim, i%r.dim, v)
		}
	}
	return badFeatures("image %d: the sum of its %d regions overflows float32 (values of magnitude near 3.4e38)", r.id, r.n)
}
