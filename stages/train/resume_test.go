package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/internal/atomicfile"
	"coderflow/pipeline"
	coder "coderflow/train"
)

// TestResumeBadCheckpoint leaves an unusable checkpoint in the work
// directory of a run killed after epoch 2 (a truncated file, a flipped bit,
// a wrong magic, a checkpoint of another model config) and checks that the rerun falls
// back to the last good epoch, or starts over when none is good, and ends
// with the bytes of an uninterrupted run.
func TestResumeBadCheckpoint(t *testing.T) {
	data := fixture(t)
	params := smallParams(map[string]any{"keep_checkpoints": true, "concept": false})
	log := slog.New(slog.NewTextHandler(testLog{t}, nil))
	full := filepath.Join(t.TempDir(), "full")
	a := runStage(t, params, data, full, log)
	killed := killAfterEpoch(t, 2, params, data, log)
	truncate := func(t *testing.T, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b[:len(b)*2/3], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	flipBit := func(t *testing.T, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x40
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	badMagic := func(t *testing.T, path string) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte("XXXX"), 0); err != nil {
			t.Fatal(err)
		}
	}
	// otherConfig writes a valid checkpoint of a model with another
	// dimension (shapes that do not fit this run's config).
	otherConfig := func(t *testing.T, path string) {
		m, err := loadModel(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg := m.Config()
		m.Close()
		cfg.Dim /= 2
		o, err := coder.NewModel(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		var buf bytes.Buffer
		if err := o.Save(&buf); err != nil {
			t.Fatal(err)
		}
		if err := atomicfile.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name     string
		damage   func(t *testing.T, dir string)
		resumed  string // resumed_after_epoch, "" = started over
		rejected string
	}{
		{"truncated", func(t *testing.T, dir string) { truncate(t, filepath.Join(dir, ckptName(2))) }, "1", "[2]"},
		{"bit-flip", func(t *testing.T, dir string) { flipBit(t, filepath.Join(dir, ckptName(2))) }, "1", "[2]"},
		{"wrong-magic", func(t *testing.T, dir string) { badMagic(t, filepath.Join(dir, ckptName(2))) }, "1", "[2]"},
		{"other-config", func(t *testing.T, dir string) { otherConfig(t, filepath.Join(dir, ckptName(2))) }, "1", "[2]"},
		{"sidecar-not-json", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, sideName(2)), []byte(`{"row":`), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "1", "[2]"},
		{"sidecar-other-epoch", func(t *testing.T, dir string) {
			b, err := os.ReadFile(filepath.Join(dir, sideName(1)))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, sideName(2)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "1", "[2]"},
		{"none-good", func(t *testing.T, dir string) {
			truncate(t, filepath.Join(dir, ckptName(2)))
			otherConfig(t, filepath.Join(dir, ckptName(1)))
		}, "", "[2 1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			if err := os.CopyFS(dir, os.DirFS(killed)); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, dir)
			b, err := pipeline.RunStandalone(t.Context(), &TrainSpec, "train", params, []*pipeline.Artifact{data}, dir, log)
			if err != nil {
				t.Fatalf("rerun over a damaged checkpoint: %v", err)
			}
			got, ok := b.Manifest.Info["resumed_after_epoch"]
			if tc.resumed == "" && ok || tc.resumed != "" && fmt.Sprint(got) != tc.resumed {
				t.Errorf("resumed_after_epoch = %v (present %v), want %q", got, ok, tc.resumed)
			}
			if got := fmt.Sprint(b.Manifest.Info["checkpoints_rejected"]); got != tc.rejected {
				t.Errorf("checkpoints_rejected = %s, want %s", got, tc.rejected)
			}
			for _, f := range []string{ckptName(3), ModelFile} {
				x, err1 := os.ReadFile(a.Path(f))
				y, err2 := os.ReadFile(b.Path(f))
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				if !bytes.Equal(x, y) {
					t.Errorf("%s differs from the uninterrupted run's", f)
				}
			}
		})
	}
}

// TestFinishDamagedBest damages the checkpoint of the best epoch (not the
// last, which resume checks) and checks that finish does not publish it as
// model.bin but removes it, so that the rerun retrains from the epoch
// before it.
func TestFinishDamagedBest(t *testing.T) {
	dir := t.TempDir()
	env := pipeline.NewEnv("train", KindTrain, pipeline.MustParams(TrainSpec.Params, map[string]any{"concept": false}), nil, dir, nil)
	cfg, m := tinyModel(t)
	var states []epochState
	for e := 1; e <= 2; e++ {
		st := epochState{Row: table.CurveRow{Epoch: int32(e), Step: int64(e), DevRSum: float64(300 - e)}, Evaluated: true}
		if err := checkpoint(env, m, e, st); err != nil {
			t.Fatal(err)
		}
		states = append(states, st)
	}
	flipByte(t, env.Path(ckptName(1)))
	err := finish(env, cfg, nil, states, map[string]any{})
	if err == nil || !strings.Contains(err.Error(), "best epoch 1") {
		t.Fatalf("finish over a damaged best checkpoint: err = %v", err)
	}
	if _, err := os.Stat(env.Path(ModelFile)); !os.IsNotExist(err) {
		t.Errorf("model.bin written from a damaged checkpoint (stat: %v)", err)
	}
	if env.ShardDone(shardName(1)) || env.ShardDone(finalShard) {
		t.Error("epoch 1 still done after its checkpoint was found damaged")
	}
}

// TestEncodeImagesCancelled checks that image encoding (dev evaluation,
// embed) stops at the next batch once the context is cancelled, with cached
// features as well as streamed ones.
func TestEncodeImagesCancelled(t *testing.T) {
	data := fixture(t)
	files, _ := data.Table(table.Features)
	cfg := coder.DefaultConfig()
	cfg.ImageDim, cfg.Regions, cfg.VocabSize, cfg.MaxLen = fxDim, 1, 20, 4
	cfg.Dim, cfg.WordDim, cfg.Queue, cfg.Prototypes, cfg.Concept = 8, 6, 0, 4, false
	m, err := coder.NewModel(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	shape := featShape{Regions: 1, Dim: fxDim, Data: fxRegions, Mean: true}
	l := newLoader(files, shape, &captionSet{}, 4, 4, 1, 1<<20, nil, &featCounts{})
	l.cache = map[int64]imgFeats{}
	var ids []int64
	if err := eachFeature(t.Context(), files, readerOptions(1<<20), func(r featRow) error {
		ids = append(ids, r.id)
		f, err := shape.convert(r, make([]float32, shape.floats()), &featCounts{})
		l.cache[r.id] = f
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for name, cache := range map[string]map[int64]imgFeats{"cached": l.cache, "streamed": nil} {
		t.Run(name, func(t *testing.T) {
			_, _, err := encodeImages(ctx, m, shape, ids, cache, files, readerOptions(1<<20), 4, &featCounts{})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
		})
	}
}

// tinyModel is a small concept-free model for tests of the stage's
// bookkeeping (checkpoints, best-epoch selection); it is closed when the
// test ends.
func tinyModel(t *testing.T) (coder.Config, *coder.Model) {
	t.Helper()
	cfg := coder.DefaultConfig()
	cfg.ImageDim, cfg.Regions, cfg.VocabSize, cfg.MaxLen = 8, 1, 20, 4
	cfg.Dim, cfg.WordDim, cfg.Queue, cfg.Prototypes, cfg.Concept = 8, 6, 0, 4, false
	m, err := coder.NewModel(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return cfg, m
}
