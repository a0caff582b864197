package tokenize

import (
	"slices"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline/pipelinetest"
)

// TestTokenizeUnicodeEdges pins the tokens of the Unicode cases of the
// second review to NLTK 3.8's NLTKWordTokenizer on the lower-cased text
// (each checked against it by hand with Debian's python3-nltk). The curly
// apostrophe is not an apostrophe for NLTK: "dog’s" gives dog ’ s, where
// "dog's" gives dog 's; an en or em dash stays inside its word, as a
// hyphen does; full-width letters and punctuation are neither folded (NFC,
// not NFKC) nor split.
func TestTokenizeUnicodeEdges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     []string
	}{
		{"nfc and nfd", "café cafe\u0301", []string{"café", "café"}},
		{"curly apostrophe", "the dog’s ball", []string{"the", "dog", "’", "s", "ball"}},
		{"curly contraction", "can’t stop", []string{"can", "’", "t", "stop"}},
		{"straight apostrophe", "the dog's ball", []string{"the", "dog", "'s", "ball"}},
		{"plural possessive", "dogs' toys", []string{"dogs", "'", "toys"}},
		{"en dash in a word", "a well–known dog", []string{"a", "well–known", "dog"}},
		{"em dash in a word", "dog—yes", []string{"dog—yes"}},
		{"hyphen and double hyphen", "a - b -- c", []string{"a", "-", "b", "--", "c"}},
		{"en dash between numbers", "5–6 cats and 5-6 dogs", []string{"5–6", "cats", "and", "5-6", "dogs"}},
		{"full-width", "Ｃａｆé！ a dog，a cat。", []string{"ｃａｆé！", "a", "dog，a", "cat。"}},
		{"numbers", "$1,000.50 for 3.5% off, 1,000,000 and .5", []string{"$", "1,000.50", "for", "3.5", "%", "off", ",", "1,000,000", "and", ".5"}},
		{"emoji sequences", "dog 👍🏽 and 👨\u200d👩\u200d👧 family", []string{"dog", "👍🏽", "and", "👨\u200d👩\u200d👧", "family"}},
		{"ideographic space only", "\u3000\u2003", nil},
		{"ideographic space splits", "a\u3000dog", []string{"a", "dog"}},
		{"zero-width space is not a space", "\u200b", []string{"\u200b"}},
		{"specials are split", "<unk> <pad>", []string{"<", "unk", ">", "<", "pad", ">"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Tokenize(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("Tokenize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestStageEdges: ties at min_count are ordered by token, a caption of
// exactly max_len tokens is not truncated, a caption of Unicode
// whitespace only is empty, NFD and NFC spellings share an id, and
// "<unk>" written in a caption is three tokens, not the unknown id.
func TestStageEdges(t *testing.T) {
	t.Parallel()
	var rows []table.CaptionRow
	rows = append(rows, caps("train", 0,
		"zeta beta alpha one two", // five tokens: max_len
		"zeta beta alpha café",
		"cafe\u0301 <unk>",
		"\u3000\u2003",
		"one two three four five six")...) // six tokens: truncated
	in := pipelinetest.RunStage(t, captionsSpec(rows, 10), nil)
	a := pipelinetest.RunStage(t, &Spec, map[string]any{"min_count": 2, "max_len": 5, "workers": 2}, in)
	v := readVocab(t, a)
	want := []string{Pad, Start, End, Unk, "alpha", "beta", "café", "one", "two", "zeta"}
	if got := v.Decode(seq(v.Len())); !slices.Equal(got, want) {
		t.Fatalf("vocab = %q, want %q", got, want)
	}
	toks := readTokens(t, a)
	cafe, _ := v.ID("café")
	for i, want := range [][]int32{
		{9, 5, 4, 7, 8},
		{9, 5, 4, cafe},
		{cafe, UnkID, UnkID, UnkID},
		{},
		{7, 8, UnkID, UnkID, UnkID},
	} {
		if !slices.Equal(toks[i].IDs, want) || int(toks[i].Length) != len(want) {
			t.Errorf("caption %d: ids %v length %d, want %v", i, toks[i].IDs, toks[i].Length, want)
		}
	}
	for key, want := range map[string]float64{"truncated": 1, "empty_captions": 1, "first_empty_caption_id": 3, "tokens": 19, "tokens_kept": 18} {
		if got := info(t, a, key); got != want {
			t.Errorf("info.%s = %v, want %v", key, got, want)
		}
	}
}
