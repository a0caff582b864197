package train

import (
	"math"
	"testing"

	"coderflow/pipeline/pipelinetest"
	_ "coderflow/stages/evaluate" // the consumer of the embed tables
	"coderflow/train/eval"
)

// TestEmbedThenEvaluate checks the contract with the evaluate stage: the
// dev embeddings written by embed are accepted by it, and its rSum equals
// the dev rSum that train.coder computed for the same (best) model.
func TestEmbedThenEvaluate(t *testing.T) {
	data := fixture(t)
	tr := pipelinetest.RunStage(t, &TrainSpec, smallParams(nil), data)
	em := pipelinetest.RunStage(t, &EmbedSpec, map[string]any{"split": "dev"}, tr, data)
	ev := pipelinetest.RunStage(t, pipelinetest.Lookup(t, "evaluate"), map[string]any{"split": "dev"}, em)
	got, want := ev.Manifest.Metrics["rsum"], tr.Manifest.Metrics["best_dev_rsum"]
	if math.Abs(got-want) > 1e-6 {
		t.Errorf("evaluate: rsum %v, train.coder best dev rsum %v (metrics %v)", got, want, ev.Manifest.Metrics)
	}
	// metrics.json names the trained model (not the embed stage), with the
	// training params an ablation compares
	mf, err := eval.ReadMetricsFile(ev.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if mf.Model == nil || mf.Model.Kind != KindTrain || mf.Model.Key != tr.Key() || mf.Model.Params["loss"] != "dcl" {
		t.Errorf("metrics.json model %+v, want the train.coder artifact %s", mf.Model, tr.Key())
	}
}
