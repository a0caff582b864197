package train

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// streamed makes feature_memory count bytes, so that feature_memory 1 streams
// the training and the dev features; it returns the restore function.
func streamed() func() {
	budgetUnit = 1
	return func() { budgetUnit = 1 << 20 }
}

// TestNonFiniteFeatures: a NaN or infinite feature value of a training or a
// dev image, cached or streamed, mean-pooled or not, stops the run when the
// image is read, with an error naming the image, the value and the shard
// file (not a NaN loss steps later, nor an evaluation error about row N of
// the image vectors).
func TestNonFiniteFeatures(t *testing.T) {
	// Image index i has id 1000+i and is in shard part-0000{id%2}; the bad
	// value is value 1*16+3 = 19 (region 1, element 3).
	for _, tc := range []struct {
		name   string
		image  int
		value  string
		params map[string]any
		stream bool
	}{
		{"train image NaN, cached", 3, "NaN", nil, false},
		{"train image +Inf, streamed", 4, "+Inf", nil, true},
		{"train image NaN, attn pooling", 3, "NaN", map[string]any{"pooling": "attn"}, false},
		{"train image -Inf, attn pooling, streamed", 5, "-Inf", map[string]any{"pooling": "attn"}, true},
		{"dev image NaN, cached", 70, "NaN", nil, false},
		{"dev image NaN, streamed", 71, "NaN", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := pipelinetest.RunStage(t, &fixtureSpec, map[string]any{"bad_image": tc.image, "bad_value": tc.value})
			params := smallParams(map[string]any{"epochs": 1, "concept": false})
			for k, v := range tc.params {
				params[k] = v
			}
			if tc.stream {
				defer streamed()()
				params["feature_memory"] = 1
			}
			_, err := pipelinetest.RunStageErr(t, &TrainSpec, params, data)
			id := 1000 + tc.image
			want := fmt.Sprintf("image %d: value 19 (region 1, element 3) is %s", id, tc.value)
			shard := fmt.Sprintf("part-%05d.parquet", id%2)
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), shard) {
				t.Errorf("error %v, want one containing %q and the shard %s", err, want, shard)
			}
		})
	}
}

// TestEmbedNonFiniteFeatures: embed stops at a NaN feature value of an image
// it encodes, naming the image and the shard, instead of writing NaN vectors
// that the evaluation rejects later.
func TestEmbedNonFiniteFeatures(t *testing.T) {
	tr := pipelinetest.RunStage(t, &TrainSpec, smallParams(map[string]any{"epochs": 1, "concept": false}), fixture(t))
	bad := pipelinetest.RunStage(t, &fixtureSpec, map[string]any{"bad_image": 100, "bad_value": "NaN"}) // test image 1100
	_, err := pipelinetest.RunStageErr(t, &EmbedSpec, map[string]any{"split": "test"}, tr, bad)
	if err == nil || !strings.Contains(err.Error(), "image 1100: value 19 (region 1, element 3) is NaN") ||
		!strings.Contains(err.Error(), "part-00000.parquet") {
		t.Errorf("error %v, want one naming image 1100, its value and its shard", err)
	}
}

// TestNaNLossHint: a loss that becomes NaN or infinite from finite inputs
// (here an absurd learning rate without clipping) stops the run with one
// step number and the hint.
func TestNaNLossHint(t *testing.T) {
	data := fixture(t)
	_, err := pipelinetest.RunStageErr(t, &TrainSpec, smallParams(map[string]any{"epochs": 1, "concept": false, "lr": 1e30, "clip": 0.0}), data)
	re := regexp.MustCompile(`epoch 1 step \d+: loss is (NaN|[+-]Inf) \(lower lr or enable clip\)$`)
	if err == nil || !re.MatchString(err.Error()) || strings.Count(err.Error(), "step") != 1 {
		t.Errorf("error %v, want one matching %q with a single step number", err, re)
	}
}

// TestConceptIDBound: a stray huge concept id is an error naming the id and
// the concepts file, not a panic (makeslice) or an allocation of many GB.
func TestConceptIDBound(t *testing.T) {
	for _, id := range []int{2147483647, maxConcepts} {
		t.Run(strconv.Itoa(id), func(t *testing.T) {
			data := pipelinetest.RunStage(t, &fixtureSpec, map[string]any{"concept_id": id})
			_, err := pipelinetest.RunStageErr(t, &TrainSpec, smallParams(map[string]any{"epochs": 1}), data)
			want := fmt.Sprintf("concept id %d", id)
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "concepts.parquet") ||
				!strings.Contains(err.Error(), strconv.Itoa(maxConcepts)) {
				t.Errorf("error %v, want one naming %q, concepts.parquet and the limit %d", err, want, maxConcepts)
			}
		})
	}
}

// TestVocabBound: a stray huge vocab id, or a word embedding matrix
// (vocabulary x word_dim) beyond the limit, is an error naming the id (and
// the vocab file) before anything is allocated.
func TestVocabBound(t *testing.T) {
	data := pipelinetest.RunStage(t, &fixtureSpec, map[string]any{"vocab_id": 2147483647})
	_, err := pipelinetest.RunStageErr(t, &TrainSpec, smallParams(map[string]any{"epochs": 1, "concept": false}), data)
	if err == nil || !strings.Contains(err.Error(), "vocab id 2147483647") || !strings.Contains(err.Error(), "vocab.parquet") {
		t.Errorf("huge vocab id: error %v, want one naming the id and vocab.parquet", err)
	}
	// 50 words x 2^24 = 8.4e8 floats, over the 2^29 limit
	_, err = pipelinetest.RunStageErr(t, &TrainSpec, smallParams(map[string]any{"epochs": 1, "concept": false, "word_dim": 1 << 24}), fixture(t))
	if err == nil || !strings.Contains(err.Error(), "50 words x word_dim 16777216") {
		t.Errorf("huge word_dim: error %v, want one naming the vocabulary size and word_dim", err)
	}
}

// TestBadTokenNamesCaption: a token id outside the vocabulary names the
// caption, the tokens file and the row in it, in train.coder and in embed.
func TestBadTokenNamesCaption(t *testing.T) {
	// caption 10 (a train caption) has id 500000 - 10*7
	data := pipelinetest.RunStage(t, &fixtureSpec, map[string]any{"bad_token": 10})
	_, err := pipelinetest.RunStageErr(t, &TrainSpec, smallParams(map[string]any{"epochs": 1, "concept": false}), data)
	// the fixture writes the 540 token rows in reverse: caption 10 is row 529
	if err == nil || !strings.Contains(err.Error(), "caption 499930") || !strings.Contains(err.Error(), "tokens.parquet, row 529") ||
		!strings.Contains(err.Error(), "token id 9999 outside the vocabulary") {
		t.Errorf("train: error %v, want one naming caption 499930 and tokens.parquet, row 529", err)
	}
	// caption 481 is a test caption (after 64*5 train and 32*5 dev ones)
	tr := pipelinetest.RunStage(t, &TrainSpec, smallParams(map[string]any{"epochs": 1, "concept": false}), fixture(t))
	bad := pipelinetest.RunStage(t, &fixtureSpec, map[string]any{"bad_token": 481})
	_, err = pipelinetest.RunStageErr(t, &EmbedSpec, nil, tr, bad)
	if err == nil || !strings.Contains(err.Error(), "caption 496633") || !strings.Contains(err.Error(), "tokens.parquet, row 58") ||
		!strings.Contains(err.Error(), "token id 9999 outside the model's vocabulary") {
		t.Errorf("embed: error %v, want one naming caption 496633 and tokens.parquet, row 58", err)
	}
}

// TestFeatureDimNamesShard: a feature row whose dim differs from the first
// row's names the shard file as well as the image (both loader modes), and
// so does embed's check against the model's dim.
func TestFeatureDimNamesShard(t *testing.T) {
	data := pipelinetest.RunStage(t, &fixtureSpec, map[string]any{"odd_dim": 5})
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprint("streamed=", stream), func(t *testing.T) {
			params := smallParams(map[string]any{"epochs": 1, "concept": false})
			if stream {
				defer streamed()()
				params["feature_memory"] = 1
			}
			_, err := pipelinetest.RunStageErr(t, &TrainSpec, params, data)
			if err == nil || !strings.Contains(err.Error(), "image 1005 has dim 17, the first image has 16") ||
				!strings.Contains(err.Error(), "part-00001.parquet") {
				t.Errorf("error %v, want one naming image 1005 and part-00001.parquet", err)
			}
		})
	}
	tr := pipelinetest.RunStage(t, &TrainSpec, smallParams(map[string]any{"epochs": 1, "concept": false}), fixture(t))
	wide := pipelinetest.RunStage(t, &fixtureSpec, map[string]any{"dim": fxDim + 2})
	_, err := pipelinetest.RunStageErr(t, &EmbedSpec, nil, tr, wide)
	if err == nil || !strings.Contains(err.Error(), "image 1000") || !strings.Contains(err.Error(), "part-00000.parquet") {
		t.Errorf("embed: error %v, want one naming image 1000 and part-00000.parquet", err)
	}
}

// TestDevImagesWithoutFeatures: dev images without a feature row are
// counted (info dev.images_without_features, a warning) and dev.images is
// the number evaluated, the same in cached and streaming mode, with and
// without a dev_images limit (the first N dev images that have features).
func TestDevImagesWithoutFeatures(t *testing.T) {
	// dev images are indexes 64..95; 70..75 have no feature row
	data := pipelinetest.RunStage(t, &fixtureSpec, map[string]any{"no_features_first": 70, "no_features": 6})
	for _, tc := range []struct {
		name      string
		stream    bool
		limit     int
		wantImgs  int
		wantNoFts int
	}{
		{"cached", false, 0, 26, 6},
		{"streamed", true, 0, 26, 6},
		{"cached, dev_images 10", false, 10, 10, 6},
		{"streamed, dev_images 10", true, 10, 10, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := smallParams(map[string]any{"epochs": 1, "concept": false, "dev_images": tc.limit})
			if tc.stream {
				defer streamed()()
				params["feature_memory"] = 1
			}
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			a, err := pipeline.RunStandalone(t.Context(), &TrainSpec, "train", params, []*pipeline.Artifact{data}, filepath.Join(t.TempDir(), "run"), log)
			if err != nil {
				t.Fatal(err)
			}
			dev := fmt.Sprint(a.Manifest.Info["dev"])
			if !strings.Contains(dev, fmt.Sprintf("images:%d ", tc.wantImgs)) || !strings.Contains(dev, fmt.Sprintf("images_without_features:%d", tc.wantNoFts)) {
				t.Errorf("info dev %s, want images:%d and images_without_features:%d", dev, tc.wantImgs, tc.wantNoFts)
			}
			if !strings.Contains(buf.String(), "level=WARN msg=\"dev images without features\"") {
				t.Errorf("no warning about the dev images without features in\n%s", buf.String())
			}
		})
	}
}

// TestFewDevImagesWarn: a dev set under 10 images (where R@10 is 100 by
// construction) is warned about and noted in the manifest; 10 is not.
func TestFewDevImagesWarn(t *testing.T) {
	data := pipelinetest.RunStage(t, &fixtureSpec, nil)
	for _, n := range []int{5, 10} {
		var buf bytes.Buffer
		params := smallParams(map[string]any{"epochs": 1, "concept": false, "dev_images": n})
		a, err := pipeline.RunStandalone(t.Context(), &TrainSpec, "train", params, []*pipeline.Artifact{data}, filepath.Join(t.TempDir(), "run"), slog.New(slog.NewTextHandler(&buf, nil)))
		if err != nil {
			t.Fatal(err)
		}
		_, noted := a.Manifest.Info["dev_warning"]
		warned := strings.Contains(buf.String(), "few dev images")
		if noted != (n < 10) || warned != (n < 10) {
			t.Errorf("dev_images %d: manifest note %v, warning %v", n, noted, warned)
		}
	}
}

// TestTrainingLogEachEpoch: the "training" line (steps/s, loss terms, ETA)
// is logged at least once per epoch, at its end with the epoch's mean loss
// terms, even when an epoch takes far less than the 30 s log interval.
func TestTrainingLogEachEpoch(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	params := smallParams(map[string]any{"epochs": 2})
	a, err := pipeline.RunStandalone(t.Context(), &TrainSpec, "train", params, []*pipeline.Artifact{fixture(t)}, filepath.Join(t.TempDir(), "run"), log)
	if err != nil {
		t.Fatal(err)
	}
	rows := readCurve(t, a)
	re := regexp.MustCompile(`msg=training epoch=(\d+) step=(\d+) steps_per_s=\S+ loss=(\S+) inst=\S+ concept=\S+ pred=\S+ swap=\S+ eta=\S+`)
	last := map[int]string{}
	for _, m := range re.FindAllStringSubmatch(buf.String(), -1) {
		e, _ := strconv.Atoi(m[1])
		step, _ := strconv.Atoi(m[2])
		if e >= 1 && e <= len(rows) && int64(step) == rows[e-1].Step {
			last[e] = m[3]
		}
	}
	for _, r := range rows {
		got, ok := last[int(r.Epoch)]
		if !ok {
			t.Errorf("epoch %d: no training line at its last step %d in\n%s", r.Epoch, r.Step, buf.String())
			continue
		}
		if want := fmt.Sprint(round(r.Loss, 4)); got != want {
			t.Errorf("epoch %d: training line loss %s, want the epoch's mean %s", r.Epoch, got, want)
		}
	}
}

// TestBestEpochTie: two evaluated epochs with the same hit counts whose
// rSums differ in the last bits (sums of the recalls in another order) are
// a tie, and a tie goes to the earlier epoch; a difference of one hit
// still picks the better epoch.
func TestBestEpochTie(t *testing.T) {
	cfg, m := tinyModel(t)
	for _, tc := range []struct {
		rsums []float64
		want  int
	}{
		{[]float64{399.97999999999996, 399.98000000000002}, 1},
		{[]float64{399.98000000000002, 399.97999999999996}, 1},
		{[]float64{390, 399.97999999999996, 399.98000000000002, 399.98}, 2},
		{[]float64{399.98, 399.98 + 100.0/5000}, 2}, // one hit of 5000 captions better
	} {
		t.Run(fmt.Sprint(tc.rsums), func(t *testing.T) {
			env := pipeline.NewEnv("train", KindTrain, pipeline.MustParams(TrainSpec.Params, map[string]any{"concept": false}), nil, t.TempDir(), nil)
			var states []epochState
			for i, r := range tc.rsums {
				st := epochState{Row: table.CurveRow{Epoch: int32(i + 1), Step: int64(i + 1), DevRSum: r}, Evaluated: true}
				if err := checkpoint(env, m, i+1, st); err != nil {
					t.Fatal(err)
				}
				states = append(states, st)
			}
			if err := finish(env, cfg, nil, states, map[string]any{}); err != nil {
				t.Fatal(err)
			}
			ts, err := readState(env)
			if err != nil {
				t.Fatal(err)
			}
			if ts.BestEpoch != tc.want || ts.BestRSum != tc.rsums[tc.want-1] {
				t.Errorf("best epoch %d (rSum %v), want %d", ts.BestEpoch, ts.BestRSum, tc.want)
			}
		})
	}
}

// TestCaptionRecordSizeDocumented: docs/train-stage.md states the size of
// the loader's per-caption record.
func TestCaptionRecordSizeDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/train-stage.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`plus (\d+) bytes per caption`).FindSubmatch(b)
	if m == nil {
		t.Fatal("docs/train-stage.md does not state the bytes per caption")
	}
	if got, want := string(m[1]), fmt.Sprint(unsafe.Sizeof(caption{})); got != want {
		t.Errorf("docs/train-stage.md: %s bytes per caption, unsafe.Sizeof(caption{}) = %s", got, want)
	}
}
