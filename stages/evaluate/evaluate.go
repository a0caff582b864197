package evaluate

import (
	"context"
	"fmt"
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
	Version: "3",
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
			Doc: "bytes for one similarity block (0 = 256 MiB); changes speed, never the numbers"},
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
	if mf.DroppedUpstream = upstreamDropped(ts.source); mf.DroppedUpstream > 0 {
		env.SetInfo("images_dropped_upstream", mf.DroppedUpstream)
		env.Log.Warn("the stage that wrote the embeddings left images of the split out (no features, or fewer than 5 captions): "+
			"the numbers are not those of the protocol's full test set", "split", split, "dropped", mf.DroppedUpstream, "folds", nf)
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

// upstreamDropped is the number of images of the evaluated split that the
// artifact which wrote the embeddings left out, from the counts it records
// (the embed stage's images_without_features and
// images_fewer_than_5_captions). Such a test set is not the protocol's: with
// folds, every fold after the first dropped image is shifted.
func upstreamDropped(a *pipeline.Artifact) int {
	if a == nil || a.Manifest == nil {
		return 0
	}
	n := 0
	for _, k := range []string{"images_without_features", "images_fewer_than_5_captions"} {
		switch v := a.Manifest.Info[k].(type) {
		case float64:
			n += int(v)
		case int:
			n += v
		case int64:
			n += int(v)
		}
	}
	return n
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
