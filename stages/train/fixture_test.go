package train

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"

	"coderflow/datasets/table"
	"coderflow/pipeline"
)

// Test data: images belong to one of `classes` latent classes; an image's
// regions are its class prototype plus noise, and its captions draw most
// words from the class's words. So features and tokens share a latent and a
// few epochs of training must bring matching pairs together.
const (
	fxClasses      = 8
	fxWordsPerCls  = 5
	fxCommonWords  = 6
	fxRegions      = 4
	fxDim          = 16
	fxSpecialToken = 4
)

// fixtureSpec writes features (2 shards), tokens, vocab, captions,
// concepts, concept_edges and caption_concepts tables. Images 0..train-1
// are train, then dev, then test. In the test split, image "short" has 3
// captions and image "long" has 7 (the rest 5).
var fixtureSpec = pipeline.Spec{
	Kind: "test.fixture", Version: "1",
	Produces: []string{table.Features, table.Tokens, table.Vocab, table.Captions, table.Concepts, table.ConceptEdges, table.CaptionConcepts},
	Params: []pipeline.Param{
		{Name: "train", Type: pipeline.Int, Default: 64},
		{Name: "dev", Type: pipeline.Int, Default: 32},
		{Name: "test", Type: pipeline.Int, Default: 12},
		{Name: "seed", Type: pipeline.Int, Default: 3},
		{Name: "regions", Type: pipeline.Int, Default: fxRegions},
		{Name: "dim", Type: pipeline.Int, Default: fxDim},
		// bad-input variants
		{Name: "omit", Type: pipeline.StringList, Default: []string{}, Doc: "tables not to declare"},
		{Name: "odd_dim", Type: pipeline.Int, Default: -1, Doc: "index of an image whose features get dim+1 (-1: none)"},
		{Name: "bad_image", Type: pipeline.Int, Default: -1, Doc: "index of an image whose feature value 1*dim+3 (region 1, element 3) is bad_value (-1: none)"},
		{Name: "bad_value", Type: pipeline.String, Default: "NaN", Doc: "the value put there (strconv.ParseFloat: NaN, +Inf, -Inf, 1e30)"},
		{Name: "no_features_first", Type: pipeline.Int, Default: -1, Doc: "index of the first image without a feature row (-1: none)"},
		{Name: "no_features", Type: pipeline.Int, Default: 0, Doc: "number of images from no_features_first on without a feature row"},
		{Name: "bad_token", Type: pipeline.Int, Default: -1, Doc: "index of a caption (in generation order) whose first token id becomes 9999 (-1: none)"},
		{Name: "concept_id", Type: pipeline.Int, Default: -1, Doc: "id of an extra concept row (-1: none)"},
		{Name: "vocab_id", Type: pipeline.Int, Default: -1, Doc: "id of an extra vocab row (-1: none)"},
		{Name: "dup_caption", Type: pipeline.Int, Default: -1, Doc: "index of a caption (in generation order) whose tokens row is written twice (-1: none)"},
	},
	Stage: pipeline.StageFunc(runFixture),
}

// fixture short/long test images (offsets into the test split).
const (
	fxShortImage = 1
	fxLongImage  = 2
)

func runFixture(ctx context.Context, env *pipeline.Env) error {
	p := env.Params
	rng := rand.New(rand.NewPCG(uint64(p.Int("seed")), 99))
	nReg, fDim := p.Int("regions"), p.Int("dim")
	protos := make([][]float32, fxClasses)
	for c := range protos {
		protos[c] = make([]float32, fDim)
		for j := range protos[c] {
			protos[c][j] = float32(rng.NormFloat64())
		}
	}
	type split struct {
		name string
		n    int
	}
	var (
		feats    [2][]table.FeatureRow
		toks     []table.TokenRow
		capRows  []table.CaptionRow
		ccRows   []table.CaptionConceptRow
		imageID  int64
		captionN int64
	)
	for _, s := range []split{{table.SplitTrain, p.Int("train")}, {table.SplitDev, p.Int("dev")}, {table.SplitTest, p.Int("test")}} {
		for i := range s.n {
			id := imageID + 1000
			imageID++
			cls := rng.IntN(fxClasses)
			dim := fDim
			if int(imageID-1) == p.Int("odd_dim") {
				dim++
			}
			fr := table.FeatureRow{ImageID: id, NRegions: int32(nReg), Dim: int32(dim)}
			for r := range nReg {
				fr.Boxes = append(fr.Boxes, 0, 0, float32(r+1)/float32(nReg), 1)
				for j := range dim {
					fr.Feats = append(fr.Feats, protos[cls][j%fDim]+0.5*float32(rng.NormFloat64()))
				}
			}
			if int(imageID-1) == p.Int("bad_image") {
				v, err := strconv.ParseFloat(p.String("bad_value"), 32)
				if err != nil {
					return err
				}
				fr.Feats[dim+3] = float32(v)
			}
			if first := p.Int("no_features_first"); first < 0 || int(imageID-1) < first || int(imageID-1) >= first+p.Int("no_features") {
				feats[id%2] = append(feats[id%2], fr)
			}
			nc := 5
			if s.name == table.SplitTest && i == fxShortImage {
				nc = 3
			}
			if s.name == table.SplitTest && i == fxLongImage {
				nc = 7
			}
			for k := range nc {
				cid := 500000 - captionN*7 // ids deliberately not in image order
				captionN++
				n := 3 + rng.IntN(5)
				var ids []int32
				for range n {
					if rng.Float64() < 0.75 {
						ids = append(ids, int32(fxSpecialToken+cls*fxWordsPerCls+rng.IntN(fxWordsPerCls)))
					} else {
						ids = append(ids, int32(fxSpecialToken+fxClasses*fxWordsPerCls+rng.IntN(fxCommonWords)))
					}
				}
				if int(captionN-1) == p.Int("bad_token") {
					ids[0] = 9999
				}
				toks = append(toks, table.TokenRow{CaptionID: cid, ImageID: id, Split: s.name, IDs: ids, Length: int32(n)})
				if int(captionN-1) == p.Int("dup_caption") {
					toks = append(toks, toks[len(toks)-1])
				}
				capRows = append(capRows, table.CaptionRow{CaptionID: cid, ImageID: id, Split: s.name, Ordinal: int32(k), Text: fmt.Sprint(ids)})
				ccRows = append(ccRows, table.CaptionConceptRow{CaptionID: cid, ConceptIDs: []int32{int32(cls), int32(fxClasses + rng.IntN(2))}})
			}
		}
	}
	vocabN := fxSpecialToken + fxClasses*fxWordsPerCls + fxCommonWords
	var vocab []table.VocabRow
	for i := range vocabN {
		vocab = append(vocab, table.VocabRow{ID: int32(i), Token: fmt.Sprintf("w%d", i), Count: 1})
	}
	if id := p.Int("vocab_id"); id >= 0 {
		vocab = append(vocab, table.VocabRow{ID: int32(id), Token: "stray", Count: 1})
	}
	// Concepts: one per class plus two generic ones; a ring of edges.
	var concepts []table.ConceptRow
	for i := range fxClasses + 2 {
		concepts = append(concepts, table.ConceptRow{ConceptID: int32(i), URI: fmt.Sprintf("/c/en/c%d", i), Label: fmt.Sprintf("c%d", i), Freq: 1})
	}
	if id := p.Int("concept_id"); id >= 0 {
		concepts = append(concepts, table.ConceptRow{ConceptID: int32(id), URI: "/c/en/stray", Label: "stray", Freq: 1})
	}
	var edges []table.ConceptEdgeRow
	for i := range fxClasses {
		edges = append(edges, table.ConceptEdgeRow{Src: int32(i), Dst: int32((i + 1) % fxClasses), Rel: "/r/RelatedTo", Weight: 1.5})
		edges = append(edges, table.ConceptEdgeRow{Src: int32(i), Dst: int32(fxClasses + i%2), Rel: "/r/IsA", Weight: 1})
	}
	// Reverse the token order so that nothing relies on the table order.
	for i, j := 0, len(toks)-1; i < j; i, j = i+1, j-1 {
		toks[i], toks[j] = toks[j], toks[i]
	}
	omit := map[string]bool{}
	for _, name := range p.Strings("omit") {
		omit[name] = true
	}
	write := func(name, file string, rows int, f func(string) error) error {
		if omit[name] {
			return nil
		}
		if err := f(env.Path(file)); err != nil {
			return err
		}
		env.AddTable(name, int64(rows), file)
		return nil
	}
	for k := range feats {
		file := fmt.Sprintf("features/part-%05d.parquet", k)
		if err := write(table.Features, file, len(feats[k]), func(p string) error {
			return table.WriteFile(p, env, table.Features, table.Options{RowGroupRows: 16}, feats[k])
		}); err != nil {
			return err
		}
	}
	steps := []error{
		write(table.Tokens, "tokens.parquet", len(toks), func(p string) error {
			return table.WriteFile(p, env, table.Tokens, table.Options{}, toks)
		}),
		write(table.Captions, "captions.parquet", len(capRows), func(p string) error {
			return table.WriteFile(p, env, table.Captions, table.Options{}, capRows)
		}),
		write(table.Vocab, "vocab.parquet", len(vocab), func(p string) error {
			return table.WriteFile(p, env, table.Vocab, table.Options{}, vocab)
		}),
		write(table.Concepts, "concepts.parquet", len(concepts), func(p string) error {
			return table.WriteFile(p, env, table.Concepts, table.Options{}, concepts)
		}),
		write(table.ConceptEdges, "concept_edges.parquet", len(edges), func(p string) error {
			return table.WriteFile(p, env, table.ConceptEdges, table.Options{}, edges)
		}),
		write(table.CaptionConcepts, "caption_concepts.parquet", len(ccRows), func(p string) error {
			return table.WriteFile(p, env, table.CaptionConcepts, table.Options{}, ccRows)
		}),
	}
	for _, err := range steps {
		if err != nil {
			return err
		}
	}
	return nil
}
