package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets/table"
)

// TestScanTokensArrow: the tokens table is streamed as Arrow record
// batches (arrowfeat's reader, Tokens layout): the kept captions and their
// ids are those of the rows (other splits left out, empty captions and
// truncation counted, lengths as written), and a damaged or foreign file is
// an error naming it, never a panic.
func TestScanTokensArrow(t *testing.T) {
	dir := t.TempDir()
	rows := []table.TokenRow{
		{CaptionID: 10, ImageID: 1, Split: "train", IDs: []int32{4, 5, 6}, Length: 3},
		{CaptionID: 11, ImageID: 1, Split: "test", IDs: []int32{7}, Length: 1},
		{CaptionID: 12, ImageID: 2, Split: "dev", IDs: []int32{8, 9, 10, 11, 12}, Length: 5},
		{CaptionID: 13, ImageID: 2, Split: "train", IDs: nil, Length: 0},
		{CaptionID: 14, ImageID: 3, Split: "train", IDs: []int32{1, 2}, Length: 9}, // length past the ids: all ids
	}
	good := filepath.Join(dir, "tokens.parquet")
	if err := table.WriteFile(good, nil, table.Tokens, table.Options{RowGroupRows: 2}, rows); err != nil {
		t.Fatal(err)
	}
	cs := &captionSet{bySplit: map[string][]int{}}
	var cnt captionCounts
	if err := cs.scanTokens(t.Context(), good, 4, vocabRange{}, map[string]uint8{"train": 0, "dev": 1}, &cnt); err != nil {
		t.Fatal(err)
	}
	type kept struct {
		id    int64
		split uint8
		ids   string
	}
	var got []kept
	for _, c := range cs.caps {
		var b strings.Builder
		for _, id := range cs.ids[c.start : c.start+int64(c.n)] {
			b.WriteString(string(rune('a' + id)))
		}
		got = append(got, kept{c.id, c.split, b.String()})
	}
	want := []kept{{10, 0, "efg"}, {12, 1, "ijkl"}, {14, 0, "bc"}}
	if len(got) != len(want) {
		t.Fatalf("kept %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("caption %d: %v, want %v", i, got[i], want[i])
		}
	}
	if cnt.Empty != 1 || cnt.Truncated != 1 {
		t.Errorf("empty %d, truncated %d; want 1 and 1", cnt.Empty, cnt.Truncated)
	}
	// a token id outside the vocabulary names the caption, the file and its row
	err := (&captionSet{}).scanTokens(t.Context(), good, 4, vocabRange{size: 9, what: "the vocabulary (9 ids)"}, map[string]uint8{"dev": 0}, &cnt)
	if err == nil || !strings.Contains(err.Error(), "caption 12") || !strings.Contains(err.Error(), good+", row 2") {
		t.Errorf("id outside the vocabulary: %v", err)
	}

	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	feats := filepath.Join(dir, "features.parquet")
	if err := table.WriteFile(feats, nil, table.Features, table.Options{}, []table.FeatureRow{{ImageID: 1, NRegions: 1, Dim: 1, Boxes: make([]float32, 4), Feats: []float32{1}}}); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"garbage.parquet":   []byte("not a parquet file"),
		"truncated.parquet": b[:len(b)*2/3],
		"damaged.parquet":   append(append(append([]byte{}, b[:4]...), make([]byte, len(b)/2)...), b[4+len(b)/2:]...),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		err := (&captionSet{}).scanTokens(t.Context(), p, 4, vocabRange{}, map[string]uint8{"train": 0}, &cnt)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v, want an error naming the file", name, err)
		}
	}
	err = (&captionSet{}).scanTokens(t.Context(), feats, 4, vocabRange{}, map[string]uint8{"train": 0}, &cnt)
	if err == nil || !strings.Contains(err.Error(), "not a tokens table") {
		t.Errorf("a features file as tokens: %v", err)
	}
}
