package train

import (
	"coderflow/internal/testenv"
	"testing"

	"coderflow/pipeline/pipelinetest"
	_ "coderflow/stages/dataset"
	_ "coderflow/stages/features"
	_ "coderflow/stages/tokenize"
)

func sharedData(t *testing.T, name string) string { return testenv.SharedData(t, name) }

// TestRealFlickr8k trains one cheap epoch on the 875 real Flickr8k photos
// (built-in region descriptors, SCAN tokenisation) and embeds dev and test:
// the stages plug into the real upstream stages, and the model beats chance.
func TestRealFlickr8k(t *testing.T) {
	if testing.Short() {
		t.Skip("real-data test skipped in -short mode")
	}
	src := sharedData(t, "flickr8k-1k")
	ds := pipelinetest.RunStage(t, pipelinetest.Lookup(t, "dataset.flickr8k"), map[string]any{"source": src})
	ft := pipelinetest.RunStage(t, pipelinetest.Lookup(t, "features.regions"), nil, ds)
	tk := pipelinetest.RunStage(t, pipelinetest.Lookup(t, "tokenize"), nil, ds)
	tr := pipelinetest.RunStage(t, &TrainSpec, map[string]any{"concept": false, "epochs": 2, "batch": 64,
		"queue": 256, "prototypes": 32, "lr": 0.0005}, ft, tk, ds)
	// Chance rSum for 56 dev images with 5 captions each is about 55.
	if r := tr.Manifest.Metrics["best_dev_rsum"]; r < 100 {
		t.Errorf("best dev rSum %v after 2 epochs, want above chance", r)
	}
	for _, split := range []string{"dev", "test"} {
		em := pipelinetest.RunStage(t, &EmbedSpec, map[string]any{"split": split}, tr, ft, tk, ds)
		if n, c := em.Manifest.Metrics["images"], em.Manifest.Metrics["captions"]; n < 50 || c != 5*n {
			t.Errorf("embed %s: %v images, %v captions", split, n, c)
		}
	}
}
