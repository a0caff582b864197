package evaluate

import (
	"context"
	"fmt"
	"math"
	"strings"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/train/eval"
)

// normTolerance is how far from 1 an embedding's L2 norm may be: float32
// normalisation is exact to about 1e-7; anything beyond this tolerance was
// not normalised (EVAL-PROTOCOL.md: similarities are dot products of
// L2-normalised vectors), and ranking it would give numbers that are not the
// protocol's.
const normTolerance = 1e-3

// testSet is one split's embeddings in protocol order.
type testSet struct {
	in         eval.Inputs
	imageIDs   []int64 // N, in row order
	captionIDs []int64 // 5N, in row order
	// the artifact that provided image_embeddings
	source *pipeline.Artifact
}

// loadTestSet reads the image_embeddings and caption_embeddings rows of split
// from the nearest upstream artifacts and checks the protocol layout:
// caption rows 5i..5i+4 belong to image row i, with ordinals 0..4 in order.
func loadTestSet(ctx context.Context, env *pipeline.Env, split string) (*testSet, error) {
	imgFiles, imgArt, err := env.InputTable(table.ImageEmbeddings)
	if err != nil {
		return nil, err
	}
	capFiles, _, err := env.InputTable(table.CaptionEmbeddings)
	if err != nil {
		return nil, err
	}
	ts := &testSet{source: imgArt}
	var imgC, capC []float32
	dim, cdim := -1, -1
	// check appends one row's vectors, fixing the dimensions on the first row
	check := func(what string, file string, off int64, r *table.EmbeddingRow, vec, cvec *[]float32) error {
		if dim < 0 {
			dim, cdim = len(r.Vec), len(r.ConceptVec)
			if dim == 0 {
				return fmt.Errorf("%s: %s row %d (id %d): empty vec", file, what, off, r.ID)
			}
		}
		if len(r.Vec) != dim || len(r.ConceptVec) != cdim {
			return fmt.Errorf("%s: %s row %d (id %d): vec/concept_vec lengths %d/%d, want %d/%d as in the first row",
				file, what, off, r.ID, len(r.Vec), len(r.ConceptVec), dim, cdim)
		}
		for vi, v := range [2][]float32{r.Vec, r.ConceptVec} {
			var ss float64
			for k, x := range v {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return fmt.Errorf("%s: %s row %d (id %d): value %d is %v", file, what, off, r.ID, k, x)
				}
				ss += float64(x) * float64(x)
			}
			if len(v) > 0 && math.Abs(math.Sqrt(ss)-1) > normTolerance {
				return fmt.Errorf("%s: %s row %d (id %d): %s has L2 norm %.6g: the protocol ranks L2-normalised embeddings",
					file, what, off, r.ID, [2]string{"vec", "concept_vec"}[vi], math.Sqrt(ss))
			}
		}
		*vec = append(*vec, r.Vec...)
		*cvec = append(*cvec, r.ConceptVec...)
		return nil
	}
	// where each image id was first seen: a repeated image row would be
	// ranked as another image (its captions, if repeated too, pass the
	// layout check), silently lowering the numbers
	type place struct {
		file string
		row  int64
	}
	seen := map[int64]place{}
	err = scanSplit(ctx, imgFiles, split, func(f string, row int64, r *table.EmbeddingRow) error {
		if p, dup := seen[r.ImageID]; dup {
			return fmt.Errorf("%s: image row %d (id %d): image %d appears twice in split %q (first at %s row %d): "+
				"the protocol ranks N distinct images", f, row, r.ID, r.ImageID, split, p.file, p.row)
		}
		seen[r.ImageID] = place{f, row}
		if err := check("image", f, row, r, &ts.in.Images, &imgC); err != nil {
			return err
		}
		ts.imageIDs = append(ts.imageIDs, r.ImageID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ts.imageIDs) == 0 {
		return nil, fmt.Errorf("image_embeddings: no rows of split %q", split)
	}
	lastFile, lastRow := "", int64(-1) // where the split's last caption row is, for the count error
	err = scanSplit(ctx, capFiles, split, func(f string, row int64, r *table.EmbeddingRow) error {
		lastFile, lastRow = f, row
		q := len(ts.captionIDs)
		img := q / eval.CaptionsPerImage
		if img >= len(ts.imageIDs) {
			return fmt.Errorf("%s: caption row %d (caption %d, image %d): more than %d captions for the %d images of split %q",
				f, row, r.ID, r.ImageID, eval.CaptionsPerImage*len(ts.imageIDs), len(ts.imageIDs), split)
		}
		if r.ImageID != ts.imageIDs[img] || int(r.Ordinal) != q%eval.CaptionsPerImage {
			return fmt.Errorf("%s: caption row %d (caption %d): image %d ordinal %d, want image %d ordinal %d: "+
				"the protocol needs exactly %d captions per image, ordered like the images (by image_id, ordinal)",
				f, row, r.ID, r.ImageID, r.Ordinal, ts.imageIDs[img], q%eval.CaptionsPerImage, eval.CaptionsPerImage)
		}
		if err := check("caption", f, row, r, &ts.in.Captions, &capC); err != nil {
			return err
		}
		ts.captionIDs = append(ts.captionIDs, r.ID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	n := len(ts.imageIDs)
	if len(ts.captionIDs) != eval.CaptionsPerImage*n {
		last := len(ts.captionIDs) / eval.CaptionsPerImage
		where := "caption_embeddings (" + strings.Join(capFiles, ", ") + "): no rows of the split"
		if lastRow >= 0 {
			where = fmt.Sprintf("%s: after caption row %d, the split's last", lastFile, lastRow)
		}
		return nil, fmt.Errorf("%s: %d captions of split %q for %d images, want exactly %d per image (image %d has %d)",
			where, len(ts.captionIDs), split, n, eval.CaptionsPerImage, ts.imageIDs[last], len(ts.captionIDs)%eval.CaptionsPerImage)
	}
	ts.in.N, ts.in.Dim = n, dim
	if cdim > 0 {
		ts.in.ConceptDim, ts.in.ImageC, ts.in.CaptionC = cdim, imgC, capC
	}
	return ts, nil
}

// scanSplit calls fn with every row of split in files, in order, with the
// file and the row's position in it (0-based) for error messages.
func scanSplit(ctx context.Context, files []string, split string, fn func(file string, row int64, r *table.EmbeddingRow) error) error {
	for _, f := range files {
		var off int64
		err := table.Scan(ctx, []string{f}, 1024, func(rows []table.EmbeddingRow) error {
			for i := range rows {
				off++
				if rows[i].Split != split {
					continue
				}
				if err := fn(f, off-1, &rows[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
