package train

import (
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline/pipelinetest"
)

// TestTrainBadInput: missing tables, mismatched feature dims, an empty
// split and too little data are clear errors (never panics).
func TestTrainBadInput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fixture map[string]any
		params  map[string]any
		want    string
	}{
		{"no features", map[string]any{"omit": []string{table.Features}}, nil, `table "features"`},
		{"no tokens", map[string]any{"omit": []string{table.Tokens}}, nil, `table "tokens"`},
		{"no vocab", map[string]any{"omit": []string{table.Vocab}}, nil, `table "vocab"`},
		{"concept branch without concepts", map[string]any{"omit": []string{table.Concepts}}, nil, `concept branch: stage "train.coder": table "concepts"`},
		{"concept branch without edges", map[string]any{"omit": []string{table.ConceptEdges}}, nil, `table "concept_edges"`},
		{"concept branch without labels", map[string]any{"omit": []string{table.CaptionConcepts}}, nil, `table "caption_concepts"`},
		{"feature dim differs", map[string]any{"odd_dim": 5}, nil, "image 1005 has dim 17, the first image has 16"},
		{"feature dim differs, streaming", map[string]any{"odd_dim": 5}, map[string]any{"feature_memory": 0},
			"image 1005 has dim 17, the first image has 16"},
		{"no train split", map[string]any{"train": 0}, nil, `no captions of split "train"`},
		{"fewer pairs than a batch", map[string]any{"train": 3}, map[string]any{"batch": 16}, "only 15 training pairs, fewer than one batch of 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := pipelinetest.RunStage(t, &fixtureSpec, tc.fixture)
			params := smallParams(map[string]any{"epochs": 1})
			for k, v := range tc.params {
				params[k] = v
			}
			if params["feature_memory"] == 0 {
				// feature_memory in bytes: nothing fits, the loader streams
				budgetUnit = 1
				defer func() { budgetUnit = 1 << 20 }()
				params["feature_memory"] = 1
			}
			_, err := pipelinetest.RunStageErr(t, &TrainSpec, params, data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestEmbedBadInput: no upstream model, an empty split, a split none of
// whose images has features and features whose dim differs from the
// model's are clear errors.
func TestEmbedBadInput(t *testing.T) {
	data := fixture(t)
	tr := pipelinetest.RunStage(t, &TrainSpec, smallParams(map[string]any{"epochs": 1, "concept": false}), data)
	if _, err := pipelinetest.RunStageErr(t, &EmbedSpec, nil, data); err == nil || !strings.Contains(err.Error(), "no upstream train.coder artifact") {
		t.Errorf("no model: error %v", err)
	}
	if _, err := pipelinetest.RunStageErr(t, &EmbedSpec, map[string]any{"split": "restval"}, tr, data); err == nil ||
		!strings.Contains(err.Error(), `split "restval": no images with captions to embed`) {
		t.Errorf("empty split: error %v", err)
	}
	// test images are 96..107: none has a feature row
	noFeat := pipelinetest.RunStage(t, &fixtureSpec, map[string]any{"no_features_first": 96, "no_features": 12})
	if _, err := pipelinetest.RunStageErr(t, &EmbedSpec, nil, tr, noFeat); err == nil ||
		!strings.Contains(err.Error(), `split "test": none of the 11 images to embed has a feature row`) {
		t.Errorf("no test image with features: error %v", err)
	}
	wide := pipelinetest.RunStage(t, &fixtureSpec, map[string]any{"dim": fxDim + 2})
	if _, err := pipelinetest.RunStageErr(t, &EmbedSpec, nil, tr, wide); err == nil ||
		!strings.Contains(err.Error(), "features have dim 18 (image 1000, shard ") || !strings.Contains(err.Error(), "the model was trained on dim 16") {
		t.Errorf("features wider than the model's: error %v", err)
	}
}
