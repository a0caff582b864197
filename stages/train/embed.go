package train

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"coderflow/datasets/arrowfeat"
	"coderflow/datasets/table"
	"coderflow/pipeline"
	coder "coderflow/train"
)

// EmbedSpec is the embed stage kind.
var EmbedSpec = pipeline.Spec{
	Kind: KindEmbed,
	// 2: the model's fused forward ops (train/ops.go) round differently.
	// 3: products with the bias added first and 4-chain row sums (train/)
	// round differently again.
	// 4: with train.coder version 4 (VSE++ on live batch keys); no
	// change in the encoding itself, so that no vsepp embedding of a
	// version 3 model is reused.
	// 5: with train.coder version 6: the concept adjacency the GCN encodes
	// with is kg.link's, as in training.
	// 6: with train.coder version 7: the bi-GRU's input projections of the
	// three gates are one product, and its directions run single-threaded
	// BLAS side by side (the encodings may differ in the last bits).
	// 7: with train.coder version 8: attention pooling per image (no NaN
	// for images whose scores lie far from the batch's first image's).
	// 8: with train.coder version 9; a caption id repeated in the tokens
	// table is embedded once (its first row), never twice among an image's
	// 5 captions.
	// 9: with train.coder version 10: attention pooling leaves region
	// padding out (coder.Batch.RegionCounts).
	// 10: with train.coder version 11: an attn model of 1 region gets
	// each image's first region (truncated, counted), not their mean.
	Version: "10",
	Doc: "Encodes the images and captions of one split with the model of the nearest upstream train.coder artifact " +
		"(its model.bin) and writes the image_embeddings and caption_embeddings tables, ordered by (image_id, ordinal). " +
		"For evaluation splits (dev, test, testall) every kept image has exactly 5 captions: images with fewer are dropped, " +
		"captions beyond the first 5 by ordinal are dropped, both counted.",
	Produces: []string{table.ImageEmbeddings, table.CaptionEmbeddings},
	Params: []pipeline.Param{
		{Name: "split", Type: pipeline.String, Default: table.SplitTest, Doc: "split to embed (train keeps every caption)"},
		{Name: "batch", Type: pipeline.Int, Default: 128, Min: pipeline.Bound(1), Doc: "items per encoder call"},
		{Name: "feature_memory", Type: pipeline.Int, Default: 256, Min: pipeline.Bound(16), NoCache: true,
			Doc: "MiB for the Arrow feature reader's batches in flight"},
		{Name: "rows_per_file", Type: pipeline.Int, Default: 100000, Min: pipeline.Bound(1),
			Doc: "caption embedding rows per Parquet shard"},
	},
	Stage: pipeline.StageFunc(runEmbed),
}

// findTrain returns the nearest upstream artifact of kind train.coder.
func findTrain(env *pipeline.Env) (*pipeline.Artifact, error) {
	var found *pipeline.Artifact
	pipeline.WalkUpstream(env.Inputs, func(a *pipeline.Artifact) bool {
		if a.Kind() == KindTrain {
			found = a
		}
		return found == nil
	})
	if found == nil {
		return nil, fmt.Errorf("stage %q: no upstream %s artifact (add the training stage to `needs`)", env.StageID, KindTrain)
	}
	return found, nil
}

// embedReaderOptions are the Arrow reader's options for embed's
// feature_memory param: all of it (MiB) for the batches in flight (embed
// holds no feature buffer beside them, unlike train.coder's loader, whose
// reader gets readerOptions' share of its budget).
func embedReaderOptions(mib int) arrowfeat.Options {
	return arrowfeat.Options{BatchRows: 256, MemoryBudget: int64(mib) << 20}
}

// evalSplit reports whether split uses the 5-captions-per-image layout.
func evalSplit(split string) bool {
	switch split {
	case table.SplitDev, table.SplitTest, table.SplitTestAll:
		return true
	}
	return false
}

func runEmbed(ctx context.Context, env *pipeline.Env) error {
	p := env.Params
	split, batch := p.String("split"), p.Int("batch")
	ta, err := findTrain(env)
	if err != nil {
		return err
	}
	// The model's config (a JSON copy written next to model.bin) says whether
	// the concept adjacency is needed to load it; it is rebuilt from the
	// tables the model was trained on.
	cfg, err := readModelConfig(ta.Path(ModelConfigFile))
	if err != nil {
		return err
	}
	vocab := vocabRange{size: cfg.VocabSize, what: fmt.Sprintf("the model's vocabulary (size %d)", cfg.VocabSize)}
	var cd *conceptData
	if cfg.Concept {
		caps0, _, err := loadCaptions(ctx, env, cfg.MaxLen, vocab, split)
		if err != nil {
			return err
		}
		want := make(map[int64]bool, len(caps0.caps))
		for _, c := range caps0.caps {
			want[c.id] = true
		}
		cd, err = loadConcepts(ctx, artifactFinder(ta, envFinder(env)), envFinder(env), func(id int64) bool { return want[id] })
		if err != nil {
			return fmt.Errorf("concept branch: %w", err)
		}
		if cd.M != cfg.Concepts {
			return fmt.Errorf("concept vocabulary has %d concepts, the model %d", cd.M, cfg.Concepts)
		}
	}
	var adj []float32
	if cd != nil {
		adj = cd.adj
	}
	m, err := loadModel(ta.Path(ModelFile), adj)
	if err != nil {
		return err
	}
	defer m.Close()
	cfg = m.Config()
	vocab = vocabRange{size: cfg.VocabSize, what: fmt.Sprintf("the model's vocabulary (size %d)", cfg.VocabSize)}

	caps, ccount, err := loadCaptions(ctx, env, cfg.MaxLen, vocab, split)
	if err != nil {
		return err
	}
	env.SetInfo("captions", ccount)
	ffiles, _, err := env.InputTable(table.Features)
	if err != nil {
		return err
	}
	if _, fdim, id, err := probeFeatures(ctx, ffiles); err != nil {
		return err
	} else if fdim != cfg.ImageDim {
		shard, row := shardOfRow(ffiles, 0)
		return fmt.Errorf("features have dim %d (image %d, shard %s, row %d), the model was trained on dim %d", fdim, id, shard, row, cfg.ImageDim)
	}
	shape := featShape{Regions: cfg.Regions, Dim: cfg.ImageDim, Mean: cfg.Pooling == coder.PoolMean}

	// Image list: images of the split with captions; evaluation splits keep
	// those with >= 5 captions.
	var images []int64
	var capIdx []int
	if evalSplit(split) {
		es := caps.evalLayout(split, nil, 0)
		images, capIdx = es.images, es.captions
		env.SetInfo("images_fewer_than_5_captions", es.ImagesDropped)
		env.SetInfo("captions_beyond_5", es.CaptionsDropped)
	} else {
		capIdx = caps.bySplit[split]
		for _, i := range capIdx {
			if n := len(images); n == 0 || images[n-1] != caps.caps[i].image {
				images = append(images, caps.caps[i].image)
			}
		}
	}
	if len(images) == 0 {
		return fmt.Errorf("split %q: no images with captions to embed", split)
	}
	counts := &featCounts{}
	imgs, missing, err := encodeImages(ctx, m, shape, images, nil, ffiles, embedReaderOptions(p.Int("feature_memory")), batch, counts)
	if err != nil {
		return err
	}
	env.SetInfo("images_regions_adjusted", counts)
	if len(missing) == len(images) {
		return fmt.Errorf("split %q: none of the %d images to embed has a feature row (e.g. image %d)", split, len(images), missing[0])
	}
	if len(missing) > 0 {
		env.SetInfo("images_without_features", len(missing))
		env.Log.Warn("images without features dropped", "n", len(missing), "example", missing[0])
		miss := make(map[int64]bool, len(missing))
		for _, id := range missing {
			miss[id] = true
		}
		capIdx = slices.DeleteFunc(slices.Clone(capIdx), func(i int) bool { return miss[caps.caps[i].image] })
	}

	// Image embeddings (sorted by image id; held in memory: n*(D+Dc) floats).
	D := imgs.dim
	irows := make([]table.EmbeddingRow, 0, len(images))
	dropped := make(map[int64]bool, len(missing))
	for _, id := range missing {
		dropped[id] = true
	}
	for i, id := range images {
		if dropped[id] {
			continue
		}
		r := table.EmbeddingRow{ID: id, ImageID: id, Split: split, Vec: imgs.inst[i*D : (i+1)*D]}
		if imgs.concept != nil {
			r.ConceptVec = imgs.concept[i*imgs.cdim : (i+1)*imgs.cdim]
		}
		irows = append(irows, r)
	}
	const imgFile = "image_embeddings/part-00000.parquet"
	if err := table.WriteFile(env.Path(imgFile), env, table.ImageEmbeddings, table.Options{}, irows); err != nil {
		return err
	}
	env.AddTable(table.ImageEmbeddings, int64(len(irows)), imgFile)

	// Caption embeddings, streamed in batches into shards.
	per := p.Int("rows_per_file")
	var w *table.Writer[table.EmbeddingRow]
	var wname string
	shard := 0
	closeShard := func() error {
		if w == nil {
			return nil
		}
		n := w.Rows()
		if err := w.Close(); err != nil {
			return err
		}
		env.AddTable(table.CaptionEmbeddings, n, wname)
		w = nil
		return nil
	}
	defer func() {
		if w != nil {
			w.Abort()
		}
	}()
	// Ordinal in the output = position among the image's kept captions
	// (0..4 for evaluation splits), as the evaluation protocol expects.
	pos := make([]int32, len(capIdx))
	for j := range capIdx {
		if j > 0 && caps.caps[capIdx[j]].image == caps.caps[capIdx[j-1]].image {
			pos[j] = pos[j-1] + 1
		}
	}
	prog := env.Progress("captions", int64(len(capIdx)))
	defer prog.Done()
	rows := make([]table.EmbeddingRow, 0, batch)
	err = encodeCaptions(ctx, m, caps, capIdx, cd, cfg.MaxLen, batch, func(first int, inst, conc []float32, cdim int) error {
		rows = rows[:0]
		n := len(inst) / D
		for k := range n {
			c := caps.caps[capIdx[first+k]]
			r := table.EmbeddingRow{ID: c.id, ImageID: c.image, Ordinal: pos[first+k], Split: split, Vec: inst[k*D : (k+1)*D]}
			if conc != nil {
				r.ConceptVec = conc[k*cdim : (k+1)*cdim]
			}
			rows = append(rows, r)
		}
		for len(rows) > 0 {
			if w == nil {
				wname = fmt.Sprintf("caption_embeddings/part-%05d.parquet", shard)
				shard++
				var err error
				if w, err = table.Create[table.EmbeddingRow](env.Path(wname), env, table.CaptionEmbeddings, table.Options{}); err != nil {
					return err
				}
			}
			k := min(len(rows), per-int(w.Rows()))
			if err := w.Write(rows[:k]); err != nil {
				return err
			}
			rows = rows[k:]
			if int(w.Rows()) >= per {
				if err := closeShard(); err != nil {
					return err
				}
			}
		}
		prog.Add(int64(n))
		return nil
	})
	if err != nil {
		return err
	}
	if err := closeShard(); err != nil {
		return err
	}
	if shard == 0 {
		return errors.New("no captions to embed")
	}
	env.SetMetric("images", float64(len(irows)))
	env.SetMetric("captions", float64(len(capIdx)))
	env.Summarize("%s: %d images, %d captions embedded (dim %d)", split, len(irows), len(capIdx), D)
	return nil
}
