package train

import (
	"context"
	"fmt"

	"coderflow/datasets/arrowfeat"
	coder "coderflow/train"
	"coderflow/train/eval"
)

// encoded holds the vectors of n items: instance (n*dim) and concept
// (n*cdim, nil when the concept branch is off).
type encoded struct {
	inst, concept []float32
	dim, cdim     int
}

// encodeImages encodes the images ids (any order) with features from cache
// (if not nil) or by streaming files, in chunks of batch. The result is in
// the order of ids; missing reports the ids without features.
func encodeImages(ctx context.Context, m *coder.Model, shape featShape, ids []int64, cache map[int64]imgFeats,
	files []string, opt arrowfeat.Options, batch int, counts *featCounts) (enc *encoded, missing []int64, err error) {
	D := m.Config().Dim
	pos := make(map[int64]int, len(ids))
	for i, id := range ids {
		pos[id] = i
	}
	enc = &encoded{inst: make([]float32, len(ids)*D), dim: D}
	F := shape.floats()
	chunk := make([]float32, 0, batch*F)
	var chunkPos []int
	var chunkN []int32 // real regions per image (nil: pre-pooled rows)
	if shape.regionCounts(1) != nil {
		chunkN = make([]int32, 0, batch)
	}
	done := make([]bool, len(ids))
	flush := func() error {
		if len(chunkPos) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		inst, conc, err := m.EncodeImages(chunk, chunkN, len(chunkPos))
		if err != nil {
			return fmt.Errorf("encode images: %w", err)
		}
		if conc != nil && enc.concept == nil {
			enc.cdim = len(conc) / len(chunkPos)
			enc.concept = make([]float32, len(ids)*enc.cdim)
		}
		for k, p := range chunkPos {
			copy(enc.inst[p*D:(p+1)*D], inst[k*D:(k+1)*D])
			if conc != nil {
				copy(enc.concept[p*enc.cdim:(p+1)*enc.cdim], conc[k*enc.cdim:(k+1)*enc.cdim])
			}
		}
		chunk, chunkPos, chunkN = chunk[:0], chunkPos[:0], chunkN[:0]
		return nil
	}
	add := func(p int, f imgFeats) error {
		done[p] = true
		chunk = append(chunk, f.x...)
		chunkPos = append(chunkPos, p)
		if chunkN != nil {
			chunkN = append(chunkN, f.n)
		}
		if len(chunkPos) == batch {
			return flush()
		}
		return nil
	}
	if cache != nil {
		for i, id := range ids {
			if f, ok := cache[id]; ok {
				if err := add(i, f); err != nil {
					return nil, nil, err
				}
			}
		}
	} else {
		tmp := make([]float32, F)
		err = eachFeature(ctx, files, opt, func(r featRow) error {
			p, ok := pos[r.id]
			if !ok || done[p] {
				return nil
			}
			f, err := shape.convert(r, tmp, counts)
			if err != nil {
				return err
			}
			return add(p, f)
		})
		if err != nil {
			return nil, nil, err
		}
	}
	if err := flush(); err != nil {
		return nil, nil, err
	}
	for i, ok := range done {
		if !ok {
			missing = append(missing, ids[i])
		}
	}
	return enc, missing, nil
}

// encodeCaptions encodes the captions idx of cs in order, in chunks of batch.
func encodeCaptions(ctx context.Context, m *coder.Model, cs *captionSet, idx []int, cd *conceptData, maxLen, batch int,
	out func(first int, inst, concept []float32, cdim int) error) error {
	M := 0
	if cd != nil {
		M = cd.M
	}
	toks := make([]int32, batch*maxLen)
	lens := make([]int32, batch)
	var labels []float32
	if M > 0 {
		labels = make([]float32, batch*M)
	}
	for first := 0; first < len(idx); first += batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(batch, len(idx)-first)
		clear(toks)
		for k := range n {
			i := idx[first+k]
			copy(toks[k*maxLen:(k+1)*maxLen], cs.tokens(i))
			lens[k] = cs.caps[i].n
			if M > 0 {
				cd.multiHot(cs.caps[i].id, labels[k*M:(k+1)*M])
			}
		}
		var lb []float32
		if M > 0 {
			lb = labels[:n*M]
		}
		inst, conc, err := m.EncodeCaptions(toks[:n*maxLen], lens[:n], lb, n)
		if err != nil {
			return fmt.Errorf("encode captions: %w", err)
		}
		cdim := 0
		if conc != nil {
			cdim = len(conc) / n
		}
		if err := out(first, inst, conc, cdim); err != nil {
			return err
		}
	}
	return nil
}

// evaluate encodes an evaluation split and returns its Recall@K.
func evaluate(ctx context.Context, m *coder.Model, shape featShape, es *evalSet, cs *captionSet, cd *conceptData,
	cache map[int64]imgFeats, files []string, opt arrowfeat.Options, batch, maxLen int, counts *featCounts) (*eval.Result, error) {
	imgs, missing, err := encodeImages(ctx, m, shape, es.images, cache, files, opt, batch, counts)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		// Keep the images with features (and their captions) only.
		miss := make(map[int64]bool, len(missing))
		for _, id := range missing {
			miss[id] = true
		}
		kept := &evalSet{}
		var inst, conc []float32
		for i, id := range es.images {
			if miss[id] {
				continue
			}
			kept.images = append(kept.images, id)
			kept.captions = append(kept.captions, es.captions[5*i:5*i+5]...)
			inst = append(inst, imgs.inst[i*imgs.dim:(i+1)*imgs.dim]...)
			if imgs.concept != nil {
				conc = append(conc, imgs.concept[i*imgs.cdim:(i+1)*imgs.cdim]...)
			}
		}
		if len(kept.images) == 0 {
			return nil, fmt.Errorf("evaluation: none of the %d images has features", len(es.images))
		}
		es, imgs.inst, imgs.concept = kept, inst, conc
	}
	D := imgs.dim
	in := eval.Inputs{N: len(es.images), Dim: D, Images: imgs.inst, Captions: make([]float32, len(es.captions)*D)}
	if imgs.concept != nil {
		in.ConceptDim = imgs.cdim
		in.ImageC = imgs.concept
		in.CaptionC = make([]float32, len(es.captions)*imgs.cdim)
	}
	err = encodeCaptions(ctx, m, cs, es.captions, cd, maxLen, batch, func(first int, inst, conc []float32, cdim int) error {
		copy(in.Captions[first*D:], inst)
		if conc != nil && in.CaptionC != nil {
			copy(in.CaptionC[first*cdim:], conc)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return eval.Evaluate(ctx, in, eval.Options{Alpha: m.Config().Alpha})
}
