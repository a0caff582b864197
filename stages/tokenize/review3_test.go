package tokenize

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// TestResumeRewritesDamagedShard: a committed shard whose file disagrees
// with its stats sidecar (replaced by a shorter valid shard, or damaged)
// is written again on resume, not sealed into the artifact.
func TestResumeRewritesDamagedShard(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"replaced by a shorter shard", func(t *testing.T, dir string) {
			b, err := os.ReadFile(filepath.Join(dir, ShardFile(2)))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, ShardFile(0)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, ShardFile(1)), []byte("garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	var rows []table.CaptionRow
	for i := range 25 {
		rows = append(rows, caps("train", int64(i), fmt.Sprintf("a dog %d runs", i%3))...)
	}
	params := map[string]any{"shard_rows": 10, "min_count": 1, "workers": 2}
	in := pipelinetest.RunStage(t, captionsSpec(rows, 100), nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "work")
			crashAfterShard(t, 2, params, in, dir)
			tc.damage(t, dir)
			a, err := pipeline.RunStandalone(t.Context(), &Spec, "tok", params, []*pipeline.Artifact{in}, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			files, _ := a.Table(table.Tokens)
			got, err := table.ReadAll[table.TokenRow](t.Context(), files...)
			if err != nil {
				t.Fatalf("tokens table after resume: %v", err)
			}
			if len(got) != 25 || a.TableRows(table.Tokens) != 25 {
				t.Fatalf("tokens rows = %d (manifest %d), want 25", len(got), a.TableRows(table.Tokens))
			}
			for i, r := range got {
				if r.CaptionID != int64(i) {
					t.Fatalf("row %d has caption %d", i, r.CaptionID)
				}
			}
		})
	}
}

// TestLoadVocabDamaged: a damaged vocab table is an error naming the file
// and the row, never a Vocab with silently wrong ids.
func TestLoadVocabDamaged(t *testing.T) {
	specials := []table.VocabRow{{ID: 0, Token: Pad}, {ID: 1, Token: Start}, {ID: 2, Token: End}, {ID: 3, Token: Unk}}
	with := func(extra ...table.VocabRow) []table.VocabRow {
		return append(append([]table.VocabRow{}, specials...), extra...)
	}
	tests := []struct {
		name string
		rows []table.VocabRow
		want string // in the error; "" = no error
	}{
		{"ok, reordered", []table.VocabRow{{ID: 4, Token: "a", Count: 5}, {ID: 2, Token: End}, {ID: 0, Token: Pad}, {ID: 3, Token: Unk}, {ID: 1, Token: Start}}, ""},
		{"only specials", with(), ""},
		{"no rows", nil, "id 0 must be <pad>"},
		{"id gap", with(table.VocabRow{ID: 5, Token: "a"}), "row 4: id 5"},
		{"negative id", with(table.VocabRow{ID: -1, Token: "a"}), "row 4: id -1"},
		{"duplicate id", with(table.VocabRow{ID: 3, Token: "a"}, table.VocabRow{ID: 5, Token: "b"}), "row 4: id 3"},
		{"duplicate token", with(table.VocabRow{ID: 4, Token: "a"}, table.VocabRow{ID: 5, Token: "a"}), `row 5: token "a"`},
		{"special elsewhere", with(table.VocabRow{ID: 4, Token: Unk}), `row 4: token "<unk>"`},
		{"specials swapped", []table.VocabRow{{ID: 0, Token: Start}, {ID: 1, Token: Pad}, {ID: 2, Token: End}, {ID: 3, Token: Unk}}, "id 0 must be <pad>"},
		{"empty token", with(table.VocabRow{ID: 4, Token: ""}), "row 4: empty token"},
		{"negative count", with(table.VocabRow{ID: 4, Token: "a", Count: -2}), "row 4: token \"a\" has count -2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "vocab.parquet")
			if err := table.WriteFile(p, nil, table.Vocab, table.Options{}, tc.rows); err != nil {
				t.Fatal(err)
			}
			v, err := LoadVocab(t.Context(), p)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("LoadVocab: %v", err)
			case tc.want == "":
				if v.Len() != len(tc.rows) || v.Lookup(Unk) != UnkID {
					t.Errorf("vocab len %d, <unk> id %d", v.Len(), v.Lookup(Unk))
				}
			case err == nil:
				t.Fatalf("LoadVocab accepted a damaged table (want error with %q)", tc.want)
			case !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p):
				t.Errorf("error %q does not name the file and %q", err, tc.want)
			}
		})
	}
}
