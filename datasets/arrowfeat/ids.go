package arrowfeat

import (
	"context"
	"fmt"
	"os"

	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/file"
)

// idBatch is the number of ids ImageIDs decodes at a time.
const idBatch = 4096

// ImageIDs calls fn with the image_id of every row of the feature shards,
// in file and row order. It reads only that column (a few bytes per image;
// the regions are not read or decoded), so it is a cheap way to learn which
// images have features before a streaming pass. Errors name the file (and
// the row group); a damaged file is an error, not a panic. A done ctx stops
// it with ctx.Err().
func ImageIDs(ctx context.Context, files []string, fn func(id int64) error) error {
	ids := make([]int64, idBatch)
	def := make([]int16, idBatch)
	for _, path := range files {
		if err := imageIDs(ctx, path, ids, def, fn); err != nil {
			return err
		}
	}
	return nil
}

func imageIDs(ctx context.Context, path string, ids []int64, def []int16, fn func(int64) error) (err error) {
	rg := -1
	defer func() {
		if p := recover(); p != nil {
			err = corrupt(path, rg, p)
		}
	}()
	if err := checkFile(path); err != nil {
		return err
	}
	pr, err := openShard(path)
	if err != nil {
		return err
	}
	defer pr.Close()
	if _, err := leaves(pr, Features, path); err != nil { // a features table
		return err
	}
	sc := pr.MetaData().Schema
	col := -1
	for i := 0; i < sc.NumColumns(); i++ {
		if p := sc.Column(i).ColumnPath(); len(p) == 1 && p[0] == "image_id" {
			col = i
		}
	}
	if col < 0 || sc.Column(col).PhysicalType() != parquet.Types.Int64 {
		return fmt.Errorf("arrowfeat: %s: no int64 column \"image_id\": not a features table", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("arrowfeat: %w", err)
	}
	if err := checkChunks(pr, []int{col}, st.Size(), path); err != nil {
		return err
	}
	for rg = 0; rg < pr.NumRowGroups(); rg++ {
		g := pr.RowGroup(rg)
		cr, err := g.Column(col)
		if err != nil {
			return fmt.Errorf("arrowfeat: %s: row group %d: %w", path, rg, err)
		}
		r, ok := cr.(*file.Int64ColumnChunkReader)
		if !ok {
			return fmt.Errorf("arrowfeat: %s: row group %d: image_id is %T, want int64", path, rg, cr)
		}
		want, got := g.NumRows(), int64(0)
		for got < want {
			if err := ctx.Err(); err != nil {
				return err
			}
			total, n, err := r.ReadBatch(min(idBatch, want-got), ids, def, nil)
			if err != nil {
				return fmt.Errorf("arrowfeat: %s: row group %d: %w", path, rg, err)
			}
			if total == 0 {
				break
			}
			if int64(n) != total {
				return fmt.Errorf("arrowfeat: %s: row group %d: null image_id near row %d", path, rg, got)
			}
			for _, id := range ids[:n] {
				if err := fn(id); err != nil {
					return err
				}
			}
			got += total
		}
		if got != want {
			return fmt.Errorf("arrowfeat: %s: row group %d: %d image ids, the footer says %d rows: corrupt Parquet data", path, rg, got, want)
		}
	}
	return nil
}
