package train

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// runKilledWithin runs the train stage with params into a fresh directory,
// takes a checkpoint within epoch e after n of its batches (final: the one
// before the dev evaluation instead) and stops right after it, as a kill
// would; it returns the directory.
func runKilledWithin(t *testing.T, e, n int, final bool, params map[string]any, data *pipeline.Artifact, log *slog.Logger) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "killed")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	prev := midCheckpointDue
	defer func() { midCheckpointDue = prev }()
	midCheckpointDue = func(ee, nn int, fin bool) bool {
		if ee == e && (final && fin || !final && nn == n) {
			// cancelled now, stopped at the next check: the checkpoint
			// below is the last thing this run writes for epoch e
			defer cancel()
			return true
		}
		return false
	}
	_, err := pipeline.RunStandalone(ctx, &TrainSpec, "train", params, []*pipeline.Artifact{data}, dir, log)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v, want context.Canceled", err)
	}
	return dir
}

// TestResumeWithinEpoch: a run killed after a checkpoint within an epoch
// (after some batches, or after the epoch's training but before its dev
// evaluation) resumes there, skipping the trained batches, and ends
// byte-identical to an uninterrupted run, curve included.
func TestResumeWithinEpoch(t *testing.T) {
	data := fixture(t)
	for _, tc := range []struct {
		name     string
		encoder  string
		n        int
		final    bool
		streamed bool
	}{
		{"after 2 batches", "mean", 2, false, false},
		{"before the dev evaluation", "mean", 0, true, false},
		{"bigru after 3 batches", "bigru", 3, false, false},
		{"streamed after 4 batches", "mean", 4, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := smallParams(map[string]any{"text_encoder": tc.encoder, "checkpoint_minutes": 0})
			if tc.streamed {
				defer streamed()()
				params["feature_memory"] = 1 // bytes: the shards are streamed
			}
			log := slog.New(slog.NewTextHandler(testLog{t}, nil))
			full := filepath.Join(t.TempDir(), "full")
			a := runStage(t, params, data, full, log)
			killed := runKilledWithin(t, 2, tc.n, tc.final, params, data, log)
			if _, err := os.Stat(filepath.Join(killed, partialSide)); err != nil {
				t.Fatalf("no checkpoint within epoch 2: %v", err)
			}
			if _, err := os.Stat(filepath.Join(killed, ckptName(2))); !os.IsNotExist(err) {
				t.Fatalf("epoch 2 finished although killed within it")
			}
			b := runStage(t, params, data, killed, log)
			got := fmt.Sprint(b.Manifest.Info["resumed_in_epoch"])
			if !strings.HasPrefix(got, "map[batches:") || !strings.HasSuffix(got, " epoch:2]") ||
				(!tc.final && got != fmt.Sprintf("map[batches:%d epoch:2]", tc.n)) {
				t.Errorf("resumed_in_epoch = %s", got)
			}
			sameRun(t, a, b)
			if left, _ := filepath.Glob(filepath.Join(killed, "ckpt", "partial*")); len(left) > 0 {
				t.Errorf("checkpoints within epochs left behind: %v", left)
			}
		})
	}
}

// TestResumeWithinEpochDamaged: a damaged checkpoint within an epoch is
// logged, removed and not trained on: the epoch starts over, with the same
// result.
func TestResumeWithinEpochDamaged(t *testing.T) {
	data := fixture(t)
	params := smallParams(map[string]any{"checkpoint_minutes": 0})
	logs, log := capturedLog()
	a := runStage(t, params, data, filepath.Join(t.TempDir(), "full"), log)
	killed := runKilledWithin(t, 2, 2, false, params, data, log)
	flipByte(t, filepath.Join(killed, partialName(2, 2)))
	logs.Reset()
	b := runStage(t, params, data, killed, log)
	if !strings.Contains(logs.String(), "checkpoint within an epoch unusable, the epoch starts over") {
		t.Errorf("no warning about the damaged checkpoint; log:\n%s", logs.String())
	}
	if _, ok := b.Manifest.Info["resumed_in_epoch"]; ok {
		t.Errorf("resumed within the epoch from a damaged checkpoint")
	}
	sameModel(t, a, b)
}
