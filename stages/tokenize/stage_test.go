package tokenize

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// captionsSpec returns a test-only stage that writes rows as the captions
// table (in files of at most perFile rows).
func captionsSpec(rows []table.CaptionRow, perFile int) *pipeline.Spec {
	return &pipeline.Spec{
		Kind: "test.captions", Version: "1", Produces: []string{table.Captions},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			for i := 0; i < len(rows) || i == 0; i += perFile {
				part := rows[i:min(i+perFile, len(rows))]
				name := fmt.Sprintf("captions-%03d.parquet", i/perFile)
				if err := table.WriteFile(env.Path(name), env, table.Captions, table.Options{AllowInvalidText: true}, part); err != nil {
					return err
				}
				env.AddTable(table.Captions, int64(len(part)), name)
			}
			return nil
		}),
	}
}

func caps(split string, firstID int64, texts ...string) []table.CaptionRow {
	var out []table.CaptionRow
	for i, s := range texts {
		id := firstID + int64(i)
		out = append(out, table.CaptionRow{CaptionID: id, ImageID: id / 5, Split: split, Ordinal: int32(id % 5), Text: s})
	}
	return out
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func readTokens(t *testing.T, a *pipeline.Artifact) []table.TokenRow {
	t.Helper()
	files, ok := a.Table(table.Tokens)
	if !ok {
		t.Fatalf("no tokens table in %+v", a.Manifest.Tables)
	}
	rows, err := table.ReadAll[table.TokenRow](t.Context(), files...)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(rows)) != a.TableRows(table.Tokens) {
		t.Fatalf("tokens: %d rows read, manifest says %d", len(rows), a.TableRows(table.Tokens))
	}
	return rows
}

func readVocab(t *testing.T, a *pipeline.Artifact) *Vocab {
	t.Helper()
	files, ok := a.Table(table.Vocab)
	if !ok {
		t.Fatalf("no vocab table in %+v", a.Manifest.Tables)
	}
	v, err := LoadVocab(t.Context(), files...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func info(t *testing.T, a *pipeline.Artifact, key string) float64 {
	t.Helper()
	v, ok := a.Manifest.Info[key]
	if !ok {
		t.Fatalf("info %q missing: %v", key, a.Manifest.Info)
	}
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	case int:
		return float64(x)
	}
	t.Fatalf("info %q is %T", key, v)
	return 0
}

func TestStage(t *testing.T) {
	t.Parallel()
	var rows []table.CaptionRow
	rows = append(rows, caps("train", 0, repeat("A dog runs on the grass.", 4)...)...)
	rows = append(rows, caps("train", 4, repeat("A man's dog can't jump.", 4)...)...)
	rows = append(rows, caps("train", 8, "a cat", "", "a \xffbad dog", strings.Repeat("dog ", 10))...)
	rows = append(rows, caps("dev", 12, repeat("A zebra runs.", 10)...)...)
	rows = append(rows, caps("test", 22, "A dog and a zebra.")...)
	in := pipelinetest.RunStage(t, captionsSpec(rows, 7), nil)
	a := pipelinetest.RunStage(t, &Spec, map[string]any{"max_len": 8, "shard_rows": 10, "workers": 3}, in)

	v := readVocab(t, a)
	// counts over train: a 4+4+1+1=10, dog 4+4+1+10=19, runs 4, on 4, the 4, grass 4, . 8,
	// man 4, 's 4, ca 4, n't 4, jump 4; zebra only in dev/test.
	want := []string{Pad, Start, End, Unk, "dog", "a", ".", "'s", "ca", "grass", "jump", "man", "n't", "on", "runs", "the"}
	if got := v.Decode(seq(v.Len())); !slices.Equal(got, want) {
		t.Fatalf("vocab = %q\nwant %q", got, want)
	}
	if _, ok := v.ID("zebra"); ok {
		t.Error("dev/test-only word entered the vocabulary")
	}

	toks := readTokens(t, a)
	if len(toks) != len(rows) {
		t.Fatalf("%d token rows for %d captions", len(toks), len(rows))
	}
	for i, r := range toks {
		c := rows[i]
		if r.CaptionID != c.CaptionID || r.ImageID != c.ImageID || r.Split != c.Split {
			t.Fatalf("row %d: %+v for caption %+v (order must follow the input)", i, r, c)
		}
		if int(r.Length) != len(r.IDs) || r.Length > 8 {
			t.Fatalf("row %d: length %d, %d ids", i, r.Length, len(r.IDs))
		}
		if slices.Contains(r.IDs, StartID) || slices.Contains(r.IDs, EndID) {
			t.Fatalf("row %d has <start>/<end>: %v", i, r.IDs)
		}
		want := Tokenize(c.Text)
		if len(want) > 8 {
			want = want[:8]
		}
		if got := v.Decode(r.IDs); !slices.Equal(got, decodeWant(v, want)) {
			t.Fatalf("row %d: %q, want %q", i, got, want)
		}
	}
	files, _ := a.Table(table.Tokens)
	if len(files) != 3 || filepath.Base(files[2]) != "part-00002.parquet" {
		t.Errorf("tokens files = %v, want 3 shards", files)
	}
	for key, want := range map[string]float64{
		"captions": 23, "empty_captions": 1, "invalid_utf8_captions": 1, "invalid_utf8_bytes": 1,
		"truncated": 1, "vocab_size": 16, "vocab_captions": 12, "shards": 3, "max_tokens": 10,
	} {
		if got := info(t, a, key); got != want {
			t.Errorf("info.%s = %v, want %v", key, got, want)
		}
	}
	// unk: train "cat" and "\ufffdbad"; dev "zebra" x10; test "and", "zebra".
	if got := info(t, a, "unk_tokens"); got != 2+10+2 {
		t.Errorf("unk_tokens = %v, want 14", got)
	}
	if _, err := os.Stat(filepath.Join(a.Dir, statsDir)); !os.IsNotExist(err) {
		t.Errorf("stats sidecar directory left in the artifact: %v", err)
	}
	if a.Manifest.Metrics["vocab_size"] != 16 {
		t.Errorf("metrics = %v", a.Manifest.Metrics)
	}
}

func decodeWant(v *Vocab, toks []string) []string { return v.Decode(v.Encode(toks)) }

func seq(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

func TestStageDeterministic(t *testing.T) {
	t.Parallel()
	var rows []table.CaptionRow
	for i := range 3000 {
		rows = append(rows, caps([]string{"train", "train", "train", "dev", "test"}[i%5], int64(i),
			fmt.Sprintf("A dog number %d and word%d jumps over the %d-th fence.", i%17, i%211, i%5))...)
	}
	in := pipelinetest.RunStage(t, captionsSpec(rows, 1000), nil)
	a1 := pipelinetest.RunStage(t, &Spec, map[string]any{"workers": 1, "shard_rows": 700, "min_count": 2}, in)
	a4 := pipelinetest.RunStage(t, &Spec, map[string]any{"workers": 4, "shard_rows": 700, "min_count": 2}, in)
	if a1.Key() != a4.Key() {
		t.Errorf("workers changed the cache key")
	}
	if !slices.Equal(readVocab(t, a1).Rows(), readVocab(t, a4).Rows()) {
		t.Error("vocab differs between 1 and 4 workers")
	}
	r1, r4 := readTokens(t, a1), readTokens(t, a4)
	if !slices.EqualFunc(r1, r4, func(x, y table.TokenRow) bool {
		return x.CaptionID == y.CaptionID && x.Split == y.Split && slices.Equal(x.IDs, y.IDs) && x.Length == y.Length
	}) {
		t.Error("tokens differ between 1 and 4 workers")
	}
	if n := len(a1.Manifest.Tables); n != 2 {
		t.Errorf("tables = %+v", a1.Manifest.Tables)
	}
}

func TestStageErrors(t *testing.T) {
	t.Parallel()
	in := pipelinetest.RunStage(t, captionsSpec(caps("test", 0, "a dog"), 10), nil)
	cases := []struct {
		name   string
		params map[string]any
		inputs []*pipeline.Artifact
		want   string
	}{
		{"no captions upstream", nil, nil, "table \"captions\""},
		{"no training captions", nil, []*pipeline.Artifact{in}, "vocabulary would be empty"},
		{"leaky vocab split", map[string]any{"vocab_splits": []string{"train", "test"}}, []*pipeline.Artifact{in}, "leaks"},
		{"bad min_count", map[string]any{"min_count": 0}, []*pipeline.Artifact{in}, "min_count"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := pipelinetest.RunStageErr(t, &Spec, c.params, c.inputs...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

// TestStageResume interrupts a run after its second shard and checks that
// the rerun in the same directory skips the committed shards and produces
// the same output as an uninterrupted run.
func TestStageResume(t *testing.T) {
	var rows []table.CaptionRow
	for i := range 50 {
		rows = append(rows, caps("train", int64(i), fmt.Sprintf("a dog %d runs", i%7))...)
	}
	rows[17].Text = "" // an empty caption in a shard that is resumed
	in := pipelinetest.RunStage(t, captionsSpec(rows, 13), nil)
	params := map[string]any{"shard_rows": 10, "min_count": 1, "workers": 2}
	clean := pipelinetest.RunStage(t, &Spec, params, in)

	dir := filepath.Join(t.TempDir(), "work")
	written := crashAfterShard1(t, params, in, dir)
	if !slices.Equal(*written, []int{0, 1}) {
		t.Fatalf("first attempt wrote shards %v", *written)
	}
	*written = nil
	a, err := pipeline.RunStandalone(t.Context(), &Spec, "tok", params, []*pipeline.Artifact{in}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(*written, []int{2, 3, 4}) {
		t.Errorf("resumed attempt wrote shards %v, want [2 3 4]", *written)
	}
	for _, key := range []string{"captions", "tokens", "empty_captions", "unk_tokens", "shards"} {
		if g, w := info(t, a, key), info(t, clean, key); g != w {
			t.Errorf("info.%s = %v after resume, %v clean", key, g, w)
		}
	}
	if a.TableRows(table.Tokens) != 50 {
		t.Errorf("tokens rows = %d", a.TableRows(table.Tokens))
	}
	got, want := readTokens(t, a), readTokens(t, clean)
	if !slices.EqualFunc(got, want, func(x, y table.TokenRow) bool {
		return x.CaptionID == y.CaptionID && slices.Equal(x.IDs, y.IDs)
	}) {
		t.Error("resumed output differs from a clean run")
	}
}

// TestStageResumeFirstOdd checks that the first empty and invalid caption
// ids after a resume are the first in caption order, as in a clean run, and
// not those of a shard written after the resume.
func TestStageResumeFirstOdd(t *testing.T) {
	var rows []table.CaptionRow
	for i := range 50 {
		rows = append(rows, caps("train", int64(i), fmt.Sprintf("a dog %d runs", i%7))...)
	}
	rows[7].Text, rows[8].Text = "", "a \xff dog"   // shard 0, resumed
	rows[35].Text, rows[36].Text = "", "a \xff cat" // shard 3, written by the rerun
	in := pipelinetest.RunStage(t, captionsSpec(rows, 13), nil)
	params := map[string]any{"shard_rows": 10, "min_count": 1, "workers": 2}
	clean := pipelinetest.RunStage(t, &Spec, params, in)

	dir := filepath.Join(t.TempDir(), "work")
	written := crashAfterShard1(t, params, in, dir)
	*written = nil
	a, err := pipeline.RunStandalone(t.Context(), &Spec, "tok", params, []*pipeline.Artifact{in}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(*written, []int{2, 3, 4}) {
		t.Fatalf("resumed attempt wrote shards %v, want [2 3 4]", *written)
	}
	for key, want := range map[string]float64{
		"first_empty_caption_id": 7, "first_invalid_utf8_caption_id": 8,
		"empty_captions": 2, "invalid_utf8_captions": 2, "invalid_utf8_bytes": 2,
	} {
		if got := info(t, clean, key); got != want {
			t.Errorf("clean: info.%s = %v, want %v", key, got, want)
		}
		if got := info(t, a, key); got != want {
			t.Errorf("resumed: info.%s = %v, want %v", key, got, want)
		}
	}
}

// crashAfterShard1 runs the stage into dir and stops it, as a crash would,
// right after shard 1 is committed. The returned list records the shards
// committed from then on (the caller resets it before the rerun); the hook
// is removed when the test ends.
func crashAfterShard1(t *testing.T, params map[string]any, in *pipeline.Artifact, dir string) *[]int {
	t.Helper()
	errStop := errors.New("simulated crash")
	written := new([]int)
	testAfterShardCommit = func(k int) error {
		*written = append(*written, k)
		if k == 1 {
			return errStop
		}
		return nil
	}
	t.Cleanup(func() { testAfterShardCommit = nil })
	if _, err := pipeline.RunStandalone(t.Context(), &Spec, "tok", params, []*pipeline.Artifact{in}, dir, nil); !errors.Is(err, errStop) {
		t.Fatalf("first attempt: err = %v, want the simulated crash", err)
	}
	return written
}
