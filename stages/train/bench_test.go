package train

import (
	"slices"
	"testing"
	"time"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
	coder "coderflow/train"
)

// BenchmarkLoaderVsStep measures what the loader costs per batch next to
// the model step it feeds (the anchor): 512 images x 5 captions with 36 x
// 512 region features, batch 128. Modes: cached pooled features (pooling=
// mean) and streamed full regions (pooling=attn, budget of 64 images).
// Reported: ms per batch of each, and loader/step.
func BenchmarkLoaderVsStep(b *testing.B) {
	data := pipelinetest.RunStage(b, &fixtureSpec, map[string]any{"train": 512, "dev": 0, "test": 0, "regions": 36, "dim": 512})
	env := pipeline.NewEnv("b", KindTrain, pipeline.MustParams(TrainSpec.Params, nil), []*pipeline.Artifact{data}, b.TempDir(), nil)
	caps, _, err := loadCaptions(b.Context(), env, 16, vocabRange{}, table.SplitTrain)
	if err != nil {
		b.Fatal(err)
	}
	files, _ := data.Table(table.Features)
	vocab, _, err := readVocabSize(b.Context(), env)
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []struct {
		name    string
		pooling string
		regions int
		budget  int64
	}{
		{"cached-mean", coder.PoolMean, 1, 1 << 30},
		{"streaming-attn", coder.PoolAttn, 36, 64 * 36 * 512 * 4},
	} {
		b.Run(mode.name, func(b *testing.B) {
			shape := featShape{Regions: mode.regions, Dim: 512, Data: 36, Mean: mode.pooling == coder.PoolMean}
			l := newLoader(files, shape, caps, 128, 16, 1, mode.budget, nil, &featCounts{})
			if l.fits() {
				l.cache = map[int64]imgFeats{}
				if err := eachFeature(b.Context(), files, readerOptions(mode.budget), l.fill); err != nil {
					b.Fatal(err)
				}
			}
			cfg := coder.DefaultConfig()
			cfg.ImageDim, cfg.Regions, cfg.VocabSize, cfg.MaxLen = 512, mode.regions, vocab, 16
			cfg.Pooling, cfg.Concept, cfg.Concepts, cfg.Clustering, cfg.Queue = mode.pooling, false, 0, false, 1024
			m, err := coder.NewModel(cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			var loadT, stepT time.Duration
			batches := 0
			b.ResetTimer()
			for i := range b.N {
				// Loader alone: one epoch of batches.
				t0 := time.Now()
				var first *coder.Batch
				err := l.epoch(b.Context(), i+1, func(bt *coder.Batch) error {
					batches++
					if first == nil {
						first = &coder.Batch{Size: bt.Size, Regions: append([]float32(nil), bt.Regions...),
							Tokens: append([]int32(nil), bt.Tokens...), Lengths: append([]int32(nil), bt.Lengths...),
							ImageIDs: append([]int64(nil), bt.ImageIDs...), RegionCounts: slices.Clone(bt.RegionCounts)}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				loadT += time.Since(t0)
				// Anchor: the model step on one of those batches.
				t0 = time.Now()
				if _, err := m.Step(first, 1e-4); err != nil {
					b.Fatal(err)
				}
				stepT += time.Since(t0)
			}
			perBatch := loadT.Seconds() / float64(batches)
			perStep := stepT.Seconds() / float64(b.N)
			b.ReportMetric(perBatch*1e3, "loader-ms/batch")
			b.ReportMetric(perStep*1e3, "step-ms/batch")
			b.ReportMetric(perBatch/perStep, "loader/step")
		})
	}
}
