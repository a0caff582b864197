package train

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// TestStalePartialRemoved: a kill after an epoch's checkpoint is committed
// but before the checkpoint within that epoch is removed leaves the latter
// (here: the one before the epoch's dev evaluation). The rerun removes it
// quietly (it is not "unusable": its epoch is finished), and it never ends
// up in the artifact (with keep_checkpoints, when the epoch was the last).
func TestStalePartialRemoved(t *testing.T) {
	data := fixture(t)
	for _, tc := range []struct {
		name  string
		epoch int // killed after this epoch (of 3)
		keep  bool
	}{
		{"after the last epoch, keep_checkpoints", 3, true},
		{"after epoch 2", 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := smallParams(map[string]any{"concept": false, "keep_checkpoints": tc.keep})
			logs, log := capturedLog()
			a := runStage(t, params, data, filepath.Join(t.TempDir(), "full"), log)
			killed := killAfterEpoch(t, tc.epoch, params, data, log)
			st, err := readSide(filepath.Join(killed, sideName(tc.epoch)))
			if err != nil {
				t.Fatal(err)
			}
			// the epoch's last checkpoint within it: the model of the epoch
			nb := int(st.Row.Step) / tc.epoch
			ps := partialState{Epoch: tc.epoch, Batches: nb, Step: st.Row.Step, File: partialName(tc.epoch, nb)}
			if err := copyFile(filepath.Join(killed, ckptName(tc.epoch)), filepath.Join(killed, ps.File)); err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(ps)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(killed, partialSide), b, 0o644); err != nil {
				t.Fatal(err)
			}
			logs.Reset()
			got := runStage(t, params, data, killed, log)
			if strings.Contains(logs.String(), "unusable") {
				t.Errorf("a finished epoch's checkpoint within it reported as unusable:\n%s", logs.String())
			}
			if left, _ := filepath.Glob(filepath.Join(got.Dir, "ckpt", "partial*")); len(left) > 0 {
				t.Errorf("checkpoints within an epoch left in the artifact: %v", left)
			}
			for _, f := range got.Manifest.Files {
				if strings.Contains(f.Path, "partial") {
					t.Errorf("artifact lists %s", f.Path)
				}
			}
			sameModel(t, a, got)
		})
	}
}

// TestResumeOtherRun: a work directory holding the checkpoints of a run
// with another batch size (epoch 1 done, a checkpoint within epoch 2: same
// model config, so the config check cannot tell) is not resumed from: the
// run starts over and ends as an uninterrupted run of its own params. The
// engine never reuses a directory across cache keys; pipeline.RunStandalone
// and tools can.
func TestResumeOtherRun(t *testing.T) {
	data := fixture(t)
	params := smallParams(map[string]any{"concept": false, "checkpoint_minutes": 0, "batch": 8})
	logs, log := capturedLog()
	a := runStage(t, params, data, filepath.Join(t.TempDir(), "full"), log)
	other := smallParams(map[string]any{"concept": false, "checkpoint_minutes": 0, "batch": 16})
	dir := runKilledWithin(t, 2, 3, false, other, data, log)
	logs.Reset()
	b := runStage(t, params, data, dir, log)
	for _, k := range []string{"resumed_after_epoch", "resumed_in_epoch"} {
		if v, ok := b.Manifest.Info[k]; ok {
			t.Errorf("%s = %v: resumed from another run's checkpoint", k, v)
		}
	}
	if got := fmt.Sprint(b.Manifest.Info["checkpoints_rejected"]); got != "[1]" {
		t.Errorf("checkpoints_rejected = %s, want [1]", got)
	}
	sameModel(t, a, b)
}

// TestResumeOtherBLAS: checkpoints written by another BLAS build (pure Go
// and OpenBLAS round the products differently) are resumed from; when this
// run trains on, it warns and notes the other build in the manifest info
// resumed_from_blas: the result is not byte-identical to an uninterrupted
// run of either build. A rerun that only finishes a training done entirely
// by the other build does not warn.
func TestResumeOtherBLAS(t *testing.T) {
	data := fixture(t)
	params := smallParams(map[string]any{"concept": false, "epochs": 2})
	for _, tc := range []struct {
		name   string
		killed int    // after this epoch (of 2); its records name the other build
		want   string // resumed_from_blas
	}{
		{"trains on", 1, "[otherblas]"},
		{"only finishes", 2, "<nil>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs, log := capturedLog()
			dir := killAfterEpoch(t, tc.killed, params, data, log)
			for e := 1; e <= tc.killed; e++ {
				side := filepath.Join(dir, sideName(e))
				var rec map[string]any
				b, err := os.ReadFile(side)
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(b, &rec); err != nil {
					t.Fatal(err)
				}
				rec["blas"] = "otherblas"
				if b, err = json.Marshal(rec); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(side, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			logs.Reset()
			a := runStage(t, params, data, dir, log)
			if got := fmt.Sprint(a.Manifest.Info["resumed_after_epoch"]); got != fmt.Sprint(tc.killed) {
				t.Errorf("resumed_after_epoch = %s, want %d", got, tc.killed)
			}
			if got := fmt.Sprint(a.Manifest.Info["resumed_from_blas"]); got != tc.want {
				t.Errorf("resumed_from_blas = %s, want %s", got, tc.want)
			}
			if warned := strings.Contains(logs.String(), "another BLAS build"); warned != (tc.want != "<nil>") {
				t.Errorf("warned about the other BLAS build: %v, want %v; log:\n%s", warned, !warned, logs.String())
			}
		})
	}
}

// TestResumedETA: a run resumed at the checkpoint before an epoch's dev
// evaluation trains no step of that epoch; its training line says the ETA
// is unknown instead of dividing by a zero rate. The rerun also builds
// more batches ahead (workers) than the killed run: same bytes.
func TestResumedETA(t *testing.T) {
	data := fixture(t)
	params := smallParams(map[string]any{"concept": false, "checkpoint_minutes": 0, "workers": 1})
	logs, log := capturedLog()
	a := runStage(t, params, data, filepath.Join(t.TempDir(), "full"), log)
	dir := runKilledWithin(t, 2, 0, true, params, data, log)
	logs.Reset()
	params["workers"] = 7
	b := runStage(t, params, data, dir, log)
	sameModel(t, a, b)
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "msg=training epoch=2 ") {
			line = l
		}
	}
	if !strings.Contains(line, "steps_per_s=0 ") || !strings.Contains(line, "eta=unknown") {
		t.Errorf("training line of the resumed epoch: %q, want steps_per_s=0 and eta=unknown", line)
	}
}

// TestResumeAfterFinal: a kill after the run committed its final shard
// (model.bin, curve and state written) but before the engine sealed the
// directory: the rerun only publishes, with the model, curve, metrics and
// infos of an uninterrupted run.
func TestResumeAfterFinal(t *testing.T) {
	data := fixture(t)
	params := smallParams(map[string]any{"concept": false})
	log := slog.New(slog.NewTextHandler(testLog{t}, nil))
	full := filepath.Join(t.TempDir(), "full")
	a := runStage(t, params, data, full, log)
	dir := filepath.Join(t.TempDir(), "killed")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	env := pipeline.NewEnv("train", KindTrain, pipeline.MustParams(TrainSpec.Params, params), []*pipeline.Artifact{data}, dir, log)
	if err := runTrain(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	if !env.ShardDone(finalShard) {
		t.Fatal("final shard not committed")
	}
	b := runStage(t, params, data, dir, log)
	sameRun(t, a, b)
	if fmt.Sprint(a.Manifest.Metrics) != fmt.Sprint(b.Manifest.Metrics) {
		t.Errorf("metrics %v, uninterrupted %v", b.Manifest.Metrics, a.Manifest.Metrics)
	}
	// compared as JSON values (a struct's fields and a map's keys are
	// written in different orders)
	var ia, ib any
	for _, x := range []struct {
		info map[string]any
		dst  *any
	}{{a.Manifest.Info, &ia}, {b.Manifest.Info, &ib}} {
		j, err := json.Marshal(x.info)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(j, x.dst); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(ia, ib) {
		t.Errorf("info %v, uninterrupted %v", ib, ia)
	}
	for _, f := range b.Manifest.Files {
		if strings.HasPrefix(f.Path, "ckpt/") {
			t.Errorf("artifact lists %s", f.Path)
		}
	}
}

// TestResumeOrphanPartial: a kill after a checkpoint within an epoch was
// written but before its sidecar names it leaves the sidecar naming the
// previous one: the rerun resumes from that one (byte-identical) and the
// orphan is removed with the epoch's other checkpoints.
func TestResumeOrphanPartial(t *testing.T) {
	data := fixture(t)
	// keep_checkpoints: ckpt/ stays in the artifact, so the orphan's
	// removal is the epoch's doing, not the final cleanup's
	params := smallParams(map[string]any{"concept": false, "checkpoint_minutes": 0, "keep_checkpoints": true})
	log := slog.New(slog.NewTextHandler(testLog{t}, nil))
	full := filepath.Join(t.TempDir(), "full")
	a := runStage(t, params, data, full, log)
	dir := runKilledWithin(t, 2, 2, false, params, data, log)
	// the next checkpoint, written but not yet named by the sidecar (its
	// content: any model; here the epoch-1 checkpoint)
	orphan := filepath.Join(dir, partialName(2, 5))
	if err := copyFile(filepath.Join(dir, ckptName(1)), orphan); err != nil {
		t.Fatal(err)
	}
	b := runStage(t, params, data, dir, log)
	if got := fmt.Sprint(b.Manifest.Info["resumed_in_epoch"]); got != "map[batches:2 epoch:2]" {
		t.Errorf("resumed_in_epoch = %s, want batch 2 of epoch 2", got)
	}
	sameModel(t, a, b)
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan checkpoint within the epoch left behind (stat: %v)", err)
	}
}
