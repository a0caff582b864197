package train

import (
	"fmt"
	"strings"
	"testing"

	"coderflow/pipeline/pipelinetest"
)

// TestPrecomputedShape trains on features shaped like the precomputed
// bottom-up-attention ones (36 regions x 2048 dims per image, where the
// built-in region descriptors of the other tests have 4 x 16): the input
// dimension and the region count come from the data, with both poolings,
// and embed encodes with the trained model.
func TestPrecomputedShape(t *testing.T) {
	data := pipelinetest.RunStage(t, &fixtureSpec, map[string]any{"train": 32, "dev": 12, "test": 12, "regions": 36, "dim": 2048})
	for _, pool := range []string{"mean", "attn"} {
		t.Run(pool, func(t *testing.T) {
			tr := pipelinetest.RunStage(t, &TrainSpec, smallParams(map[string]any{"epochs": 1, "pooling": pool, "concept": false}), data)
			cfg, err := readModelConfig(tr.Path(ModelConfigFile))
			if err != nil {
				t.Fatal(err)
			}
			wantRegions := 36
			if pool == "mean" {
				wantRegions = 1 // averaged by the loader
			}
			if cfg.ImageDim != 2048 || cfg.Regions != wantRegions {
				t.Errorf("model config ImageDim %d, Regions %d; want 2048, %d", cfg.ImageDim, cfg.Regions, wantRegions)
			}
			ld := fmt.Sprint(tr.Manifest.Info["loader"])
			for _, want := range []string{"data_regions:36", "feature_dim:2048", fmt.Sprintf("image_floats:%d", wantRegions*2048), "train_pairs:160"} {
				if !containsField(ld, want) {
					t.Errorf("loader info %s lacks %s", ld, want)
				}
			}
			em := pipelinetest.RunStage(t, &EmbedSpec, map[string]any{"split": "test"}, tr, data)
			if n, c := em.Manifest.Metrics["images"], em.Manifest.Metrics["captions"]; n != 11 || c != 55 {
				t.Errorf("embed: %v images, %v captions; want 11 and 55", n, c)
			}
		})
	}
}

// containsField reports whether m, the fmt.Sprint of a map, holds key:value.
func containsField(m, kv string) bool {
	return strings.Contains(strings.NewReplacer("[", " ", "]", " ").Replace(m), " "+kv+" ")
}
