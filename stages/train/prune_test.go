package train

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"coderflow/pipeline"
)

// TestCheckpointsPruned: without keep_checkpoints, only the last epoch's
// checkpoint and the best one so far stay on disk while training (disk use
// does not grow with the epochs), every finished epoch stays done, and a
// resume from such a directory ends byte-identical to an uninterrupted run.
func TestCheckpointsPruned(t *testing.T) {
	data := fixture(t)
	params := smallParams(map[string]any{"epochs": 5, "dev_every": 1})
	log := slog.New(slog.NewTextHandler(testLog{t}, nil))

	full := filepath.Join(t.TempDir(), "full")
	a := runStage(t, params, data, full, log)

	killed := killAfterEpoch(t, 4, params, data, log)
	var states []epochState
	for e := 1; e <= 4; e++ {
		st, err := readSide(filepath.Join(killed, sideName(e)))
		if err != nil {
			t.Fatalf("epoch %d sidecar: %v", e, err)
		}
		states = append(states, st)
	}
	best, _ := bestEpoch(states)
	want := []string{filepath.Base(ckptName(4))}
	if best != 4 {
		want = append([]string{filepath.Base(ckptName(best))}, want...)
	}
	bins, _ := filepath.Glob(filepath.Join(killed, "ckpt", "*.bin"))
	var got []string
	for _, b := range bins {
		got = append(got, filepath.Base(b))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("checkpoints after epoch 4 = %v, want %v (last and best so far, best epoch %d)", got, want, best)
	}

	b := runStage(t, params, data, killed, log)
	if got := fmt.Sprint(b.Manifest.Info["resumed_after_epoch"]); got != "4" {
		t.Errorf("resumed_after_epoch = %v, want 4 (every finished epoch stays done)", got)
	}
	sameModel(t, a, b)
	if _, err := os.Stat(b.Path("ckpt")); !os.IsNotExist(err) {
		t.Errorf("ckpt/ left in the artifact without keep_checkpoints (stat: %v)", err)
	}
}

// TestResumeFallsBackOverPruned: when the last checkpoint does not load,
// the resume falls back over the pruned epochs (quietly: they are not
// rejected) to the best one kept, and still ends byte-identical.
func TestResumeFallsBackOverPruned(t *testing.T) {
	data := fixture(t)
	params := smallParams(map[string]any{"epochs": 4, "dev_every": 1})
	logs, log := capturedLog()
	a := runStage(t, params, data, filepath.Join(t.TempDir(), "full"), log)
	killed := killAfterEpoch(t, 3, params, data, log)
	flipByte(t, filepath.Join(killed, ckptName(3))) // damage the last checkpoint
	logs.Reset()
	b := runStage(t, params, data, killed, log)
	if got := fmt.Sprint(b.Manifest.Info["checkpoints_rejected"]); got != "[3]" {
		t.Errorf("checkpoints_rejected = %s, want [3] (pruned epochs are not rejections)", got)
	}
	sameModel(t, a, b)
}

// flipByte flips one bit in the middle of the file at p (a damaged
// checkpoint that the checksum catches).
func flipByte(t *testing.T, p string) {
	t.Helper()
	buf, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	buf[len(buf)/2] ^= 1
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sameModel fails t unless the artifacts a and b hold the same model.bin.
func sameModel(t *testing.T, a, b *pipeline.Artifact) {
	t.Helper()
	x, err1 := os.ReadFile(a.Path(ModelFile))
	y, err2 := os.ReadFile(b.Path(ModelFile))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("model.bin differs between the uninterrupted and the resumed run")
	}
}

// sameRun checks that a and b hold the same model and training curve.
func sameRun(t *testing.T, a, b *pipeline.Artifact) {
	t.Helper()
	sameModel(t, a, b)
	sameCurve(t, a, b)
}

// sameCurve checks that a and b hold the same training curve (but for its
// wall-clock seconds).
func sameCurve(t *testing.T, a, b *pipeline.Artifact) {
	t.Helper()
	ra, rb := readCurve(t, a), readCurve(t, b)
	if len(ra) != len(rb) {
		t.Fatalf("curves of %d and %d rows", len(ra), len(rb))
	}
	for i := range ra {
		ra[i].Seconds, rb[i].Seconds = 0, 0
		if ra[i] != rb[i] {
			t.Errorf("curve row %d: %+v vs %+v", i, ra[i], rb[i])
		}
	}
}
