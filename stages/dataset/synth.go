package dataset

import (
	"context"
	"fmt"
	"os"

	"coderflow/datasets/synth"
	"coderflow/datasets/table"
	"coderflow/pipeline"
)

func init() { pipeline.Default.MustRegister(SynthSpec) }

// SynthSpec is the dataset.synth stage kind: the embedded synthetic data set
// (see package coderflow/datasets/synth), generated offline from a seed.
var SynthSpec = pipeline.Spec{
	Kind:    "dataset.synth",
	Version: "3",
	Doc: "Generate the embedded synthetic data set: PNG images of 1-3 coloured shapes on textured " +
		"backgrounds (images/NNNNNN.png inside the artifact) with 5 grammar-written captions each. " +
		"Offline; byte-identical for the same params.",
	Produces: []string{table.Images, table.Captions},
	Params: []pipeline.Param{
		{Name: "images", Type: pipeline.Int, Default: 2000, Doc: "number of images", Min: pipeline.Bound(1), Max: pipeline.Bound(10_000_000)},
		{Name: "seed", Type: pipeline.Int, Default: 7, Doc: "data set seed; the same seed gives the same bytes"},
		{Name: "min_size", Type: pipeline.Int, Default: 128, Doc: "smallest image width/height in pixels", Min: pipeline.Bound(32), Max: pipeline.Bound(4096)},
		{Name: "max_size", Type: pipeline.Int, Default: 192, Doc: "largest image width/height in pixels", Min: pipeline.Bound(32), Max: pipeline.Bound(4096)},
		{Name: "dev_fraction", Type: pipeline.Float, Default: 0.1, Doc: "share of images in the dev split", Min: pipeline.Bound(0), Max: pipeline.Bound(0.9)},
		{Name: "test_fraction", Type: pipeline.Float, Default: 0.1, Doc: "share of images in the test split", Min: pipeline.Bound(0), Max: pipeline.Bound(0.9)},
		{Name: "workers", Type: pipeline.Int, Default: 0, NoCache: true, Doc: "render goroutines; 0 = number of CPUs", Min: pipeline.Bound(0)},
	},
	Validate: func(p pipeline.Params) error { return synthConfig(p).Validate() },
	Stage:    pipeline.StageFunc(runSynth),
}

func synthConfig(p pipeline.Params) synth.Config {
	return synth.Config{
		Images: p.Int("images"), Seed: int64(p.Int("seed")),
		MinSize: p.Int("min_size"), MaxSize: p.Int("max_size"),
		DevFraction: p.Float("dev_fraction"), TestFraction: p.Float("test_fraction"),
		Workers: p.Int("workers"),
	}
}

func runSynth(ctx context.Context, env *pipeline.Env) error {
	cfg := synthConfig(env.Params)
	out, err := newOutput(env)
	if err != nil {
		return err
	}
	defer out.abort()
	prog := env.Progress("images", int64(cfg.Images))
	defer prog.Done()
	var bytes int64
	err = synth.Run(ctx, cfg, func(it synth.Item) error {
		name := fmt.Sprintf("%06d.png", it.Index)
		rel := "images/" + name
		if err := os.WriteFile(env.Path(rel), it.PNG, 0o644); err != nil {
			return err
		}
		bytes += int64(len(it.PNG))
		id := int64(it.Index)
		if err := out.image(table.ImageRow{ImageID: id, Key: name, Split: it.Split, Path: rel,
			Width: int32(it.Scene.Width), Height: int32(it.Scene.Height)}); err != nil {
			return err
		}
		for k, c := range it.Captions {
			if err := out.caption(table.CaptionRow{CaptionID: id*synth.CaptionsPerImage + int64(k), ImageID: id,
				Split: it.Split, Ordinal: int32(k), Text: c}); err != nil {
				return err
			}
		}
		prog.Add(1)
		return nil
	})
	if err != nil {
		return fmt.Errorf("dataset.synth: %w", err)
	}
	if err := out.close(); err != nil {
		return err
	}
	tr, dv, te := cfg.SplitCounts()
	env.SetInfo("png_bytes", bytes)
	env.Summarize("%d synthetic images (%d/%d/%d train/dev/test), %d captions", cfg.Images, tr, dv, te, cfg.Images*synth.CaptionsPerImage)
	return nil
}
