package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// extraCaptionsSpec copies the upstream tokens table and adds 40 train
// captions of images that have no features.
var extraCaptionsSpec = pipeline.Spec{
	Kind: "test.extra_captions", Version: "1", Produces: []string{table.Tokens},
	Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		files, _, err := env.InputTable(table.Tokens)
		if err != nil {
			return err
		}
		rows, err := table.ReadAll[table.TokenRow](ctx, files...)
		if err != nil {
			return err
		}
		for i := range 40 {
			rows = append(rows, table.TokenRow{CaptionID: int64(1_000_000 + i), ImageID: int64(1_000_000 + i/5),
				Split: table.SplitTrain, IDs: []int32{fxSpecialToken, fxSpecialToken + 1}, Length: 2})
		}
		if err := table.WriteFile(env.Path("tokens.parquet"), env, table.Tokens, table.Options{}, rows); err != nil {
			return err
		}
		env.AddTable(table.Tokens, int64(len(rows)), "tokens.parquet")
		return nil
	}),
}

// finishedRE matches the progress reporter's last line for the batches,
// totalRE every line for them.
var (
	finishedRE = regexp.MustCompile(`msg=(\w+) work=batches done=(\d+) .*total=(\d+)`)
	totalRE    = regexp.MustCompile(`work=batches .*total=(\d+)`)
)

// TestProgressTotals checks the batch progress of a streaming run whose
// tokens have captions without features and of a resumed run: every
// progress line's total is the batches this run trains (streaming mode
// counts the pairs with features before the first epoch), and each ends
// "finished" with done = total.
func TestProgressTotals(t *testing.T) {
	data := fixture(t)
	extra := pipelinetest.RunStage(t, &extraCaptionsSpec, nil, data)
	budgetUnit = 1000 // feature_memory in kB: streaming mode
	defer func() { budgetUnit = 1 << 20 }()
	params := smallParams(map[string]any{"feature_memory": 3, "concept": false})
	// The log reporter writes its last line only for work that took over a
	// second: the last epoch waits that long.
	slowLast := func(e int) {
		if e == 3 {
			time.Sleep(1100 * time.Millisecond)
		}
	}
	run := func(ctx context.Context, dir string) (string, error) {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		_, err := pipeline.RunStandalone(ctx, &TrainSpec, "train", params, []*pipeline.Artifact{extra}, dir, log)
		return buf.String(), err
	}
	check := func(t *testing.T, log string, want int) {
		t.Helper()
		ms := finishedRE.FindAllStringSubmatch(log, -1)
		if len(ms) == 0 {
			t.Fatalf("no batches progress line in\n%s", log)
		}
		m := ms[len(ms)-1]
		done, _ := strconv.Atoi(m[2])
		total, _ := strconv.Atoi(m[3])
		if m[1] != "finished" || done != want || total != want {
			t.Errorf("last progress line %q, want finished with done = total = %d", m[0], want)
		}
		for _, m := range totalRE.FindAllStringSubmatch(log, -1) {
			if total, _ := strconv.Atoi(m[1]); total != want {
				t.Errorf("progress line %q, want total = %d throughout", m[0], want)
			}
		}
	}
	// 320 train pairs with features, batch 16: 20 batches per epoch (the
	// 40 captions without features are not counted: until the pairs were
	// counted from the shards' ids, the first estimate was 22).
	afterEpoch = slowLast
	defer func() { afterEpoch = nil }()
	log, err := run(t.Context(), filepath.Join(t.TempDir(), "full"))
	if err != nil {
		t.Fatal(err)
	}
	check(t, log, 3*20)

	dir := filepath.Join(t.TempDir(), "killed")
	err = cancelAfterEpoch(t.Context(), 2, func(ctx context.Context) error {
		_, err := run(ctx, dir)
		return err
	})
	if err == nil {
		t.Fatal("interrupted run did not fail")
	}
	log, err = run(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	check(t, log, 20)
}

// TestPairCountWithoutFeatures: with 40 of 360 train captions lacking
// image features, streaming and cached runs both count 320 training pairs
// before training, and cap a queue larger than that at 320 (streaming mode
// counted 360 before it read the shards' ids); the loader's train_images
// are the 64 with features, the 8 others counted apart (all 72 were
// reported as train images).
func TestPairCountWithoutFeatures(t *testing.T) {
	data := fixture(t)
	extra := pipelinetest.RunStage(t, &extraCaptionsSpec, nil, data)
	for _, mode := range []string{"streaming", "cached"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "streaming" {
				budgetUnit = 1000 // feature_memory in kB
				defer func() { budgetUnit = 1 << 20 }()
			}
			params := smallParams(map[string]any{"feature_memory": 3, "concept": false, "epochs": 1, "queue": 1000})
			a, err := pipeline.RunStandalone(t.Context(), &TrainSpec, "train", params, []*pipeline.Artifact{extra},
				filepath.Join(t.TempDir(), mode), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			info := a.Manifest.Info
			if got := fmt.Sprint(info["loader"]); !strings.Contains(got, "mode:"+mode) || !strings.Contains(got, "train_pairs:320") ||
				!strings.Contains(got, "batches_per_epoch:20") {
				t.Errorf("loader %s, want %s mode with 320 train pairs, 20 batches per epoch", got, mode)
			}
			if got := fmt.Sprint(info["train_captions_without_features"]); got != "40" {
				t.Errorf("train_captions_without_features %s, want 40", got)
			}
			// the loader's train_images are those trained on (with features)
			if got := fmt.Sprint(info["loader"]); !strings.Contains(got, "train_images:64 ") {
				t.Errorf("loader %s, want 64 train images (the 8 without features not counted)", got)
			}
			if got := fmt.Sprint(info["train_images_without_features"]); got != "8" {
				t.Errorf("train_images_without_features %s, want 8", got)
			}
			if got := fmt.Sprint(info["queue_capped"]); !strings.Contains(got, "used:320") {
				t.Errorf("queue_capped %s, want used 320", got)
			}
		})
	}
}

// fewerRegionsSpec copies the upstream features with one region less for
// every image whose id is 1 mod 5 (the first image keeps all of them).
var fewerRegionsSpec = pipeline.Spec{
	Kind: "test.fewer_regions", Version: "1", Produces: []string{table.Features},
	Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		files, _, err := env.InputTable(table.Features)
		if err != nil {
			return err
		}
		rows, err := table.ReadAll[table.FeatureRow](ctx, files...)
		if err != nil {
			return err
		}
		for i, r := range rows {
			if i > 0 && r.ImageID%5 == 1 {
				n := r.NRegions - 1
				rows[i].NRegions, rows[i].Feats = n, r.Feats[:int(n)*int(r.Dim)]
				if len(r.Boxes) > 0 {
					rows[i].Boxes = r.Boxes[:4*n]
				}
			}
		}
		if err := table.WriteFile(env.Path("features.parquet"), env, table.Features, table.Options{RowGroupRows: 16}, rows); err != nil {
			return err
		}
		env.AddTable(table.Features, int64(len(rows)), "features.parquet")
		return nil
	}),
}

// TestFeatureCountsOnce checks that the manifest's feature counts (images
// whose regions were padded) count each image once: the same for cached and
// streamed features and for an uninterrupted and a resumed run.
func TestFeatureCountsOnce(t *testing.T) {
	data := pipelinetest.RunStage(t, &fewerRegionsSpec, nil, fixture(t))
	params := smallParams(map[string]any{"concept": false, "pooling": "attn"})
	log := slog.New(slog.NewTextHandler(testLog{t}, nil))
	counts := func(a *pipeline.Artifact) string {
		b, err := json.Marshal(a.Manifest.Info["features"])
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cached := pipelinetest.RunStage(t, &TrainSpec, params, data)
	want := counts(cached)
	if !strings.Contains(want, `"images_regions_padded":`) || strings.Contains(want, `"images_regions_padded":0`) {
		t.Fatalf("cached run counts %s, want padded images", want)
	}
	budgetUnit = 1000 // feature_memory in kB: streaming mode
	defer func() { budgetUnit = 1 << 20 }()
	params["feature_memory"] = 3
	full := pipelinetest.RunStage(t, &TrainSpec, params, data)
	if got := counts(full); got != want {
		t.Errorf("streaming run counts %s, cached run %s", got, want)
	}
	// Killed after epoch 2 of 3, and after the last epoch (its checkpoint
	// written, model.bin not yet): the rerun that trains no epoch streams
	// no feature, and used to report zero counts.
	for _, kill := range []int{2, 3} {
		dir := killAfterEpoch(t, kill, params, data, log)
		resumed := runStage(t, params, data, dir, log)
		if got := counts(resumed); got != want {
			t.Errorf("streaming run resumed after epoch %d counts %s, cached run %s", kill, got, want)
		}
	}
}

// TestStreamingFewerPairsThanBatch: 10 training captions with features and
// 40 without, batch 16, streamed: the check before training counts only the
// captions with features (from the shards' ids) and says why it stops.
func TestStreamingFewerPairsThanBatch(t *testing.T) {
	data := pipelinetest.RunStage(t, &fixtureSpec, map[string]any{"train": 2})
	extra := pipelinetest.RunStage(t, &extraCaptionsSpec, nil, data)
	budgetUnit = 1000 // feature_memory in kB: streaming mode
	defer func() { budgetUnit = 1 << 20 }()
	_, err := pipelinetest.RunStageErr(t, &TrainSpec, smallParams(map[string]any{"feature_memory": 1, "concept": false, "pooling": "attn"}), extra)
	if err == nil || !strings.Contains(err.Error(), "only 10 of the 50 training captions have image features, fewer than one batch of 16") {
		t.Errorf("err = %v, want the captions without features named", err)
	}
}

// TestProgressResumedWithinEpoch: a run resumed within an epoch counts
// only the batches it trains in its progress (not the ones the checkpoint
// within the epoch already holds, which it skips at once): its rate and
// ETA are its own, and it ends "finished" with done = total.
func TestProgressResumedWithinEpoch(t *testing.T) {
	data := fixture(t)
	params := smallParams(map[string]any{"concept": false, "checkpoint_minutes": 0})
	log := slog.New(slog.NewTextHandler(testLog{t}, nil))
	dir := runKilledWithin(t, 2, 4, false, params, data, log)
	// The log reporter writes its last line only for work that took over a
	// second: the last epoch waits that long.
	afterEpoch = func(e int) {
		if e == 3 {
			time.Sleep(1100 * time.Millisecond)
		}
	}
	defer func() { afterEpoch = nil }()
	var buf bytes.Buffer
	if _, err := pipeline.RunStandalone(t.Context(), &TrainSpec, "train", params, []*pipeline.Artifact{data},
		dir, slog.New(slog.NewTextHandler(&buf, nil))); err != nil {
		t.Fatal(err)
	}
	// 20 batches per epoch: 16 left of epoch 2, then epoch 3
	const want = 16 + 20
	ms := finishedRE.FindAllStringSubmatch(buf.String(), -1)
	if len(ms) == 0 {
		t.Fatalf("no batches progress line in\n%s", buf.String())
	}
	m := ms[len(ms)-1]
	if m[1] != "finished" || m[2] != strconv.Itoa(want) || m[3] != strconv.Itoa(want) {
		t.Errorf("last progress line %q, want finished with done = total = %d", m[0], want)
	}
}
