package evaluate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"coderflow/datasets/table"
	"coderflow/internal/blasimpl"
	"coderflow/pipeline"
	"coderflow/train/eval"
)

func init() {
	pipeline.Default.MustRegister(Spec)
	pipeline.Default.MustRegister(ReportSpec)
}

// Spec is the `evaluate` stage kind.
var Spec = pipeline.Spec{
	Kind: "evaluate",
	// 2: metrics.json's model is the training artifact upstream of the
	// embeddings (its params), not the embedding stage; alpha defaults to
	// the model's.
	// 3: metrics.json's data: the identity of the evaluated test data.
	// 4: images_dropped_upstream also counts the images of the split that
	// the data set stage skipped (its images_skipped_per_split), not only
	// those the embed stage dropped; info images_dropped_upstream_by_stage.
	Version: "4",
	Doc: "Recall@K image-text retrieval (VSE++/SCAN protocol) on the image_embeddings and caption_embeddings " +
		"of one split: 5 captions per image, i2t and t2i R@1/5/10, medr, meanr, rsum, optional K folds " +
		"(folds: 5 is COCO 1K). Writes metrics.json and the metrics table.",
	Produces: []string{eval.MetricsTable},
	Params: []pipeline.Param{
		{Name: "split", Type: pipeline.String, Default: "test", Doc: "the split to evaluate"},
		{Name: "folds", Type: pipeline.Int, Default: 0, Min: pipeline.Bound(0),
			Doc: "0 or 1: no folds; K: K equal folds, metrics averaged (5 = COCO 1K)"},
		{Name: "alpha", Type: pipeline.Float, Default: modelAlpha, Min: pipeline.Bound(modelAlpha), Max: pipeline.Bound(1),
			Doc: "similarity = alpha*instance + (1-alpha)*concept (when concept vectors exist); -1: the alpha the model " +
				"was trained and selected with (the training stage's alpha param, found upstream; 0.9 without one)"},
		{Name: "mem_budget", Type: pipeline.Int, Default: 0, Min: pipeline.Bound(0), NoCache: true,
			Doc: "bytes for one similarity block (0 = 256 MiB); changes speed and memory, not the numbers (except, " +
				"with OpenBLAS on small data, a near-tie moved by one place: see docs/evaluate.md)"},
	},
	Validate: func(p pipeline.Params) error {
		if a := p.Float("alpha"); a != modelAlpha && a < 0 {
			return pipeline.ParamError("alpha", fmt.Errorf("%v: -1 (the model's alpha) or a value in [0, 1]", a))
		}
		return nil
	},
	Stage: pipeline.StageFunc(runEvaluate),
}

func runEvaluate(ctx context.Context, env *pipeline.Env) error {
	split := env.Params.String("split")
	folds := env.Params.Int("folds")
	ts, err := loadTestSet(ctx, env, split)
	if err != nil {
		return err
	}
	model := modelSource(ts.source)
	alpha := env.Params.Float("alpha")
	if alpha == modelAlpha {
		alpha = trainedAlpha(model)
	}
	drop := upstreamDropped(ts.source, split)
	if nf := max(folds, 1); ts.in.N%nf != 0 {
		// eval.Evaluate refuses it too, without saying which split or why
		msg := fmt.Sprintf("split %q: %d images cannot be split into %d equal folds", split, ts.in.N, nf)
		if drop.total > 0 {
			msg += fmt.Sprintf(": %d image(s) of the split were left out upstream (%s), so this is not the protocol's "+
				"full test set; fix or restore them, or evaluate without folds", drop.total, drop.describe())
		}
		return errors.New(msg)
	}
	env.Log.Info("evaluating", "split", split, "images", ts.in.N, "dim", ts.in.Dim,
		"concept_dim", ts.in.ConceptDim, "alpha", alpha, "folds", folds, "blas", blasimpl.Name)
	start := time.Now()
	res, err := eval.Evaluate(ctx, ts.in, eval.Options{Folds: folds, Alpha: alpha, MemBudget: int64(env.Params.Int("mem_budget"))})
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	nf := max(folds, 1)
	mf := &eval.MetricsFile{
		Protocol: eval.Protocol, Split: split, Images: ts.in.N, Captions: len(ts.captionIDs),
		Dim: ts.in.Dim, ConceptDim: ts.in.ConceptDim, Alpha: alpha, Folds: nf, FoldImages: ts.in.N / nf,
		Mean: res.Mean, PerFold: res.Folds, Stage: env.StageID, Key: env.Key,
	}
	if a := model; a != nil {
		mf.Model = &eval.ModelRef{Stage: a.Stage, Kind: a.Kind(), Key: a.Key(), Params: a.Manifest.Params}
	}
	if mf.DroppedUpstream = drop.total; drop.total > 0 {
		env.SetInfo("images_dropped_upstream", drop.total)
		env.SetInfo("images_dropped_upstream_by_stage", drop.byStage)
		env.Log.Warn("images of the split were left out upstream (skipped by the data set stage: missing or unreadable files, "+
			"too few captions; or dropped by the stage that wrote the embeddings: no features, fewer than 5 captions): "+
			"the numbers are not those of the protocol's full test set", "split", split, "dropped", drop.total,
			"by_stage", drop.byStage, "folds", nf)
	}
	if len(drop.unknown) > 0 {
		env.SetInfo("upstream_skips_not_per_split", drop.unknown)
		env.Log.Warn("a data set artifact upstream predates per-split skip counts (images_skipped_per_split) and reports "+
			"skipped input: images of this split it may have left out are not counted in images_dropped_upstream "+
			"(rerun it with the current data set stage to count them)", "stages", drop.unknown)
	}
	mf.Data = dataIdentity(ts)
	if mf.Data == nil {
		env.Log.Info("no images or captions table upstream of the embeddings: metrics.json has no data identity, " +
			"so reports leave this evaluation out of their runs_dir comparison")
	}
	if err := eval.WriteMetricsFile(env.Path(eval.MetricsFileName), mf); err != nil {
		return err
	}
	if err := writeMetricsTable(env, mf); err != nil {
		return err
	}
	for _, nv := range res.Mean.Named() {
		env.SetMetric(nv.Name, nv.Value)
	}
	env.SetInfo("images", ts.in.N)
	env.SetInfo("captions", len(ts.captionIDs))
	env.SetInfo("blas", blasimpl.Name)
	env.SetInfo("eval_seconds", secs)
	m := res.Mean
	foldNote := ""
	if nf > 1 {
		foldNote = fmt.Sprintf(", mean of %d folds", nf)
	}
	if mf.DroppedUpstream > 0 {
		foldNote += fmt.Sprintf(" (%d dropped upstream: not the full test set)", mf.DroppedUpstream)
	}
	env.Summarize("%s %d images%s: rsum %.1f | i2t R@1 %.1f R@5 %.1f R@10 %.1f | t2i R@1 %.1f R@5 %.1f R@10 %.1f",
		split, ts.in.N, foldNote, m.RSum, m.R1I2T, m.R5I2T, m.R10I2T, m.R1T2I, m.R5T2I, m.R10T2I)
	return nil
}

// modelAlpha is the alpha param's value meaning "the model's alpha".
const modelAlpha = -1

// trainedAlpha is the alpha param of the model's training stage, or
// eval.DefaultAlpha when it has none (or a value outside [0, 1]).
func trainedAlpha(model *pipeline.Artifact) float64 {
	if model != nil && model.Manifest != nil {
		switch a := model.Manifest.Params["alpha"].(type) {
		case float64:
			if a >= 0 && a <= 1 {
				return a
			}
		case int64:
			if a == 0 || a == 1 {
				return float64(a)
			}
		case int:
			if a == 0 || a == 1 {
				return float64(a)
			}
		}
	}
	return eval.DefaultAlpha
}

// skippedPerSplitKey is the manifest info key under which a data set
// reader records, per split, the listed images it left out of the images
// and captions tables (dataset.flickr8k 4, dataset.coco and dataset.f30k 4,
// dataset.precomp 3 and later): {"test": 2, "train": 1}.
const skippedPerSplitKey = "images_skipped_per_split"

// embedDropKeys are the embed stage's counts of images of its (one) split
// that it left out.
var embedDropKeys = []string{"images_without_features", "images_fewer_than_5_captions"}

// dropped is what upstreamDropped found.
type dropped struct {
	total   int
	byStage map[string]int // stage id -> images of the split it left out (nonzero only)
	// stage ids of data artifacts that report skipped input without
	// per-split counts (written before images_skipped_per_split): their
	// skips cannot be attributed to a split and are not counted
	unknown []string
}

// describe lists the counts by stage, e.g. "data: 1, embed: 2".
func (d dropped) describe() string {
	var parts []string
	for _, st := range slices.Sorted(maps.Keys(d.byStage)) {
		parts = append(parts, fmt.Sprintf("%s: %d", st, d.byStage[st]))
	}
	return strings.Join(parts, ", ")
}

// upstreamDropped counts the images of split that were left out before
// the evaluation, from the counts the artifacts record:
//
//   - the artifact emb that wrote the embeddings: its images_skipped_per_split
//     entry for split when it records one, else the embed stage's
//     images_without_features and images_fewer_than_5_captions (which are
//     about the one split it embedded);
//   - the data set artifacts the evaluated images and captions came from
//     (the nearest artifacts upstream of emb with the images and the
//     captions tables, as in metrics.json's data identity): their
//     images_skipped_per_split entry for split. Images of other splits
//     are not counted.
//
// Each distinct artifact (by cache key) is counted once, so the usual
// single data set stage that wrote both tables, or an artifact reached by
// two paths, is not counted twice. The counts never overlap: an image the
// data set stage skipped is in neither of its tables, so the embed stage
// never sees it. Such a test set is not the protocol's: with folds, every
// fold after the first missing image is shifted.
func upstreamDropped(emb *pipeline.Artifact, split string) dropped {
	d := dropped{byStage: map[string]int{}}
	if emb == nil || emb.Manifest == nil {
		return d
	}
	add := func(a *pipeline.Artifact, n int) {
		if n > 0 {
			d.total += n
			d.byStage[a.Stage] += n
		}
	}
	if n, ok := splitCount(emb.Manifest.Info[skippedPerSplitKey], split); ok {
		add(emb, n)
	} else {
		n := 0
		for _, k := range embedDropKeys {
			v, _ := infoInt(emb.Manifest.Info[k])
			n += v
		}
		add(emb, n)
	}
	seen := map[string]bool{emb.Key(): true}
	imgs, caps := dataSources(emb)
	for _, a := range []*pipeline.Artifact{imgs, caps} {
		if a == nil || a.Manifest == nil || seen[a.Key()] {
			continue
		}
		seen[a.Key()] = true
		if n, ok := splitCount(a.Manifest.Info[skippedPerSplitKey], split); ok {
			add(a, n)
		} else if reportsSkips(a.Manifest.Info["issues"]) {
			d.unknown = append(d.unknown, a.Stage)
		}
	}
	return d
}

// splitCount returns the count of split in a per-split info map (as
// written by the stage, or decoded from JSON) and whether v is such a map;
// a map without split means 0.
func splitCount(v any, split string) (int, bool) {
	switch m := v.(type) {
	case map[string]any:
		n, _ := infoInt(m[split])
		return n, true
	case map[string]int64:
		n, _ := infoInt(m[split])
		return n, true
	case map[string]int:
		n, _ := infoInt(m[split])
		return n, true
	case map[string]float64:
		n, _ := infoInt(m[split])
		return n, true
	}
	return 0, false
}

// infoInt returns a manifest info count (an int as written, a float64
// once decoded from JSON) and whether v is one; negative, non-finite or
// non-numeric values are 0.
func infoInt(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		if !(x >= 0 && x <= 1<<53) { // NaN too
			return 0, false
		}
		return int(x), true
	case int:
		return max(x, 0), true
	case int64:
		return int(max(x, 0)), true
	}
	return 0, false
}

// reportsSkips reports whether a data set reader's "issues" info counts
// any anomaly (some of which may be skipped images): a non-empty map, in
// whichever form (decoded JSON, or the reader's own type in memory).
func reportsSkips(v any) bool {
	r := reflect.ValueOf(v)
	return r.Kind() == reflect.Map && r.Len() > 0
}

// modelSource returns the artifact whose params describe the evaluated
// model: the nearest artifact at or upstream of emb (breadth first) that
// declares the train_curve table (the training stage; its params are the
// ones an ablation varies), else emb itself (embeddings without a training
// stage upstream).
func modelSource(emb *pipeline.Artifact) *pipeline.Artifact {
	model := emb
	pipeline.WalkUpstream([]*pipeline.Artifact{emb}, func(a *pipeline.Artifact) bool {
		if _, ok := a.Table(table.TrainCurve); ok {
			model = a
			return false
		}
		return true
	})
	return model
}

const metricsTableFile = "metrics.parquet"

func writeMetricsTable(env *pipeline.Env, mf *eval.MetricsFile) error {
	rows := mf.Rows()
	if err := table.WriteFile(env.Path(metricsTableFile), env, eval.MetricsTable, table.Options{}, rows); err != nil {
		return err
	}
	env.AddTable(eval.MetricsTable, int64(len(rows)), metricsTableFile)
	return nil
}
