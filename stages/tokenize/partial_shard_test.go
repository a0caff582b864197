package tokenize

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// TestEncodeAllNoPartialShardCommit: when reading the captions stops in the
// middle of a shard (a read error, or the run being cancelled), the shard
// written so far must not be committed. A committed shard is skipped by the
// rerun, so committing a partial one made the resumed artifact silently
// lose the captions of the rest of that shard.
func TestEncodeAllNoPartialShardCommit(t *testing.T) {
	params, err := pipeline.NewParams(Spec.Params, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	good := filepath.Join(src, "captions-000.parquet")
	env0 := pipeline.NewEnv("caps", "test.captions", params, nil, src, nil)
	if err := table.WriteFile(good, env0, table.Captions, table.Options{}, caps("train", 0, repeat("a dog runs", 7)...)); err != nil {
		t.Fatal(err)
	}
	// The second file of the table is not Parquet: the scan fails after
	// the first file's rows were sent to the shard writer.
	bad := filepath.Join(src, "captions-001.parquet")
	if err := os.WriteFile(bad, []byte("not a parquet file"), 0o644); err != nil {
		t.Fatal(err)
	}
	var c Counter
	c.Add("dog")
	vocab := c.Vocab(1)
	// The writer races the reader's error: repeat so that the buggy
	// interleaving (the writer sees the job queue closed and finishes the
	// shard) is all but certain to show up.
	for i := range 200 {
		dir := filepath.Join(t.TempDir(), fmt.Sprint(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		env := pipeline.NewEnv("tok", Spec.Kind, params, nil, dir, nil)
		_, _, err := encodeAll(t.Context(), env, []string{good, bad}, vocab,
			encodeOptions{maxLen: 64, shardRows: 100, workers: 2}, nopProgress{})
		if err == nil {
			t.Fatal("encodeAll succeeded on a table whose second file is not Parquet")
		}
		if env.ShardDone(ShardFile(0)) {
			t.Fatalf("attempt %d: shard 0 holds 7 of its rows but was committed (err %v): a rerun would skip the rest", i, err)
		}
	}
}

type nopProgress struct{}

func (nopProgress) Add(int64)      {}
func (nopProgress) SetTotal(int64) {}
func (nopProgress) Done()          {}

// TestResumeIgnoresShortShard: a shard committed with fewer rows than the
// captions table has for it (as the bug above committed them, in work
// directories an interrupted run left behind) is written again on resume,
// not skipped, so the tokens table has every caption.
func TestResumeIgnoresShortShard(t *testing.T) {
	var rows []table.CaptionRow
	for i := range 20 {
		rows = append(rows, caps("train", int64(i), fmt.Sprintf("a dog %d runs", i%3))...)
	}
	params := map[string]any{"shard_rows": 100, "min_count": 1, "workers": 2}
	dir := filepath.Join(t.TempDir(), "work")
	// An attempt that committed shard 0 with the first 7 captions only.
	short := pipelinetest.RunStage(t, captionsSpec(rows[:7], 100), nil)
	crashAfterShard(t, 0, params, short, dir)
	if !pipeline.NewEnv("tok", Spec.Kind, pipeline.Params{}, nil, dir, nil).ShardDone(ShardFile(0)) {
		t.Fatal("setup: shard 0 not committed")
	}
	full := pipelinetest.RunStage(t, captionsSpec(rows, 100), nil)
	a, err := pipeline.RunStandalone(t.Context(), &Spec, "tok", params, []*pipeline.Artifact{full}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := a.TableRows(table.Tokens); n != 20 || len(readTokens(t, a)) != 20 {
		t.Errorf("tokens rows = %d after resuming from a 7-row shard 0, want 20", n)
	}
	if got := info(t, a, "captions"); got != 20 {
		t.Errorf("info.captions = %v, want 20", got)
	}
}

// crashAfterShard runs the stage into dir and stops it, as a crash would,
// right after shard k is committed.
func crashAfterShard(t *testing.T, k int, params map[string]any, in *pipeline.Artifact, dir string) {
	t.Helper()
	errStop := errors.New("simulated crash")
	testAfterShardCommit = func(i int) error {
		if i == k {
			return errStop
		}
		return nil
	}
	defer func() { testAfterShardCommit = nil }()
	if _, err := pipeline.RunStandalone(t.Context(), &Spec, "tok", params, []*pipeline.Artifact{in}, dir, nil); !errors.Is(err, errStop) {
		t.Fatalf("first attempt: err = %v, want the simulated crash", err)
	}
}
