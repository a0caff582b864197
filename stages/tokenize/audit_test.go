package tokenize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// TestNormalizeNFCAfterLower: lower-casing an NFC text can leave it out of
// NFC when the capital has no precomposed form but its small letter has
// (J + caron, whose small letter is U+01F0 ǰ) or when the capital is
// precomposed and its small letter is not (U+0130 İ + acute becomes i +
// acute, which composes to í). The tokens must be NFC, so that a word
// written in capitals and the same word in small letters give one token.
func TestNormalizeNFCAfterLower(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, upper, lower string
	}{
		{"J caron", "J\u030cAN", "\u01f0an"},
		{"J caron NFD small", "J\u030cAN", "j\u030can"},
		{"dotted I acute", "\u0130\u0301", "\u00ed"},
		{"H circumflex macron below", "\u0124\u0331", "\u1e96\u0302"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range []string{tc.upper, tc.lower} {
				if n := Normalize(s); !norm.NFC.IsNormalString(n) {
					t.Errorf("Normalize(%+q) = %+q, not NFC", s, n)
				}
			}
			if u, l := Tokenize(tc.upper), Tokenize(tc.lower); !slices.Equal(u, l) {
				t.Errorf("Tokenize(%+q) = %+q, Tokenize(%+q) = %+q: want the same tokens", tc.upper, u, tc.lower, l)
			}
		})
	}
}

// TestStageResumeByteIdentical: a run that crashed after shard 1 with 4
// workers, leaving the debris of a crash in the middle of shard 2 (the
// temporary file of its atomic write and an uncommitted, damaged shard
// file), resumed with 2 workers, gives the same files, byte for byte, and
// the same manifest info as an uninterrupted run.
func TestStageResumeByteIdentical(t *testing.T) {
	var rows []table.CaptionRow
	for i := range 57 {
		rows = append(rows, caps([]string{"train", "train", "dev", "test"}[i%4], int64(i),
			fmt.Sprintf("A dog %d runs after the %d-th ball.", i%7, i%3))...)
	}
	rows[23].Text = "a \xff caf\u00e9 cafe\u0301" // shard 2: invalid UTF-8, NFC and NFD
	in := pipelinetest.RunStage(t, captionsSpec(rows, 13), nil)
	params := map[string]any{"shard_rows": 10, "min_count": 1, "workers": 2}
	clean, err := pipeline.RunStandalone(t.Context(), &Spec, "tok", params, []*pipeline.Artifact{in}, filepath.Join(t.TempDir(), "clean"), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "work")
	crashAfterShard(t, 1, map[string]any{"shard_rows": 10, "min_count": 1, "workers": 4}, in, dir)
	for name, data := range map[string]string{
		".part-00002.parquet.tmp-3k9x": "PAR1 half a shard",
		"part-00002.parquet":           "not committed",
	} {
		if err := os.WriteFile(filepath.Join(dir, "tokens", name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, err := pipeline.RunStandalone(t.Context(), &Spec, "tok", params, []*pipeline.Artifact{in}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	list := func(root string) []string {
		var out []string
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && d.Name() != "manifest.json" {
				rel, _ := filepath.Rel(root, p)
				out = append(out, rel)
			}
			return err
		})
		return out
	}
	files := list(clean.Dir)
	if got := list(a.Dir); !slices.Equal(got, files) || len(files) != 7 {
		t.Fatalf("files after resume %q, clean %q", got, files)
	}
	for _, f := range files {
		x, err1 := os.ReadFile(filepath.Join(clean.Dir, f))
		y, err2 := os.ReadFile(filepath.Join(a.Dir, f))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs after resume (%d vs %d bytes; %v %v)", f, len(y), len(x), err1, err2)
		}
	}
	ci, _ := json.Marshal(clean.Manifest.Info)
	ai, _ := json.Marshal(a.Manifest.Info)
	if !bytes.Equal(ci, ai) {
		t.Errorf("info after resume:\n%s\nclean:\n%s", ai, ci)
	}
}

// unicodePieces add to oraclePieces the Unicode cases of the audit: a
// capital with a combining mark (J + caron), zero-width and bidirectional
// format characters, a BOM, a soft hyphen, full-width punctuation, the
// Unicode spaces, Unicode dashes and quotes, digits of other scripts and
// the contractions in capitals.
var unicodePieces = []string{
	"J", "\u030c", "Ǩ", "\u200b", "\u200d", "\u200e", "\u200f", "\u202e", "\ufeff", "\u00ad",
	"！", "，", "。", "＂", "＇", "：", "（", "\u3000", "\u2028", "\u2029", "\u0085", "\u180e",
	"\u00a0", "\u202f", "\u205f", "\u1680", "\v", "\f", "\r", "\x1d", "\x1e", "\x1f",
	"K", "ẞ", "Σ", "‐", "–", "—", "′", "‛", "‚", "‹", "›", "١", "߀", "½", "Ⅻ", "ǅ", "ﬁ", "Ⓐ",
	"CAN", "NOT", "Gon", "NA", "'T", "IS", "WAS", "İS", "Wan", "Na", "D", "'YE", "MORE", "'N",
}

// TestUnicodeAgainstNLTK compares, on random strings of oraclePieces and
// unicodePieces without a sentence end (. ? !, where the sentence split is
// an approximation), the rewrite cascade with NLTKWordTokenizer and
// Tokenize with nltk.word_tokenize's steps on the normalised text.
func TestUnicodeAgainstNLTK(t *testing.T) {
	cascade, done := nltkOracle(t)
	defer done()
	words, done2 := startOracle(t, "testdata/nltk_punkt_oracle.py")
	defer done2()
	var pieces []string
	for _, p := range append(slices.Clone(oraclePieces), unicodePieces...) {
		if !strings.ContainsAny(p, ".?!") {
			pieces = append(pieces, p)
		}
	}
	r := rand.New(rand.NewPCG(21, 23))
	n := 5000
	if testing.Short() {
		n = 500
	}
	fails := 0
	for range n {
		var sb strings.Builder
		for range 1 + r.IntN(14) {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		s := sb.String()
		if !utf8.ValidString(s) {
			continue
		}
		if got, want := treebankTokens(s), cascade(s); !slices.Equal(got, want) {
			fails++
			if fails <= 20 {
				t.Errorf("cascade %+q:\n got %+q\nwant %+q", s, got, want)
			}
		}
		if got, want := Tokenize(s), words(Normalize(s)); !slices.Equal(got, want) {
			fails++
			if fails <= 20 {
				t.Errorf("Tokenize %+q:\n got %+q\nwant %+q", s, got, want)
			}
		}
	}
	if fails > 0 {
		t.Errorf("%d differences from NLTK in %d strings", fails, n)
	}
}

// TestPunktBoundaries pins where nltk.word_tokenize (Punkt, then
// NLTKWordTokenizer on each sentence; NLTK 3.8) cuts captions around a
// period, for the parts of Punkt that do not depend on its model: a mark
// followed by a curly quote is no sentence end (the period stays on its
// word), a mark followed by punctuation such as ( ; " ' is one, closing
// quotes and brackets followed by whitespace, "--" or the end move back to
// the sentence that ended (with the whitespace before them), and marks with
// no ASCII whitespace between them are decided together, about the token
// Punkt's word tokenizer cuts before the mark. Each expectation is NLTK's
// output (with an untrained Punkt; the English model decides these alike).
func TestPunktBoundaries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"a big dog.” the cat", []string{"a", "big", "dog.", "”", "the", "cat"}},
		{"a big dog.’ the cat", []string{"a", "big", "dog.", "’", "the", "cat"}},
		{"a big dog.» the cat", []string{"a", "big", "dog.", "»", "the", "cat"}},
		{"a big dog. ) the cat", []string{"a", "big", "dog", ".", ")", "the", "cat"}},
		{"a big dog.\t) the cat", []string{"a", "big", "dog.", ")", "the", "cat"}},
		{"a big dog.) the cat", []string{"a", "big", "dog", ".", ")", "the", "cat"}},
		{"a big dog.(the cat)", []string{"a", "big", "dog", ".", "(", "the", "cat", ")"}},
		{"a big dog.\"the cat\"", []string{"a", "big", "dog", ".", "``", "the", "cat", "''"}},
		{"a big dog.'s ball", []string{"a", "big", "dog", ".", "'s", "ball"}},
		{"a big dog.;the cat", []string{"a", "big", "dog", ".", ";", "the", "cat"}},
		{"a big dog.\")--the cat", []string{"a", "big", "dog", ".", "''", ")", "--", "the", "cat"}},
		{"a big dog.\n\"hi\" there", []string{"a", "big", "dog", ".", "``", "hi", "''", "there"}},
		{"a big dog.\u3000the cat. a bird", []string{"a", "big", "dog", ".", "the", "cat", ".", "a", "bird"}},
		{"a big dog.\u3000cat. a bird", []string{"a", "big", "dog.", "cat", ".", "a", "bird"}},
		{"a dog.(cat. x", []string{"a", "dog.", "(", "cat", ".", "x"}},
		// The decision is about Punkt's token before the mark: "(a." is
		// about the initial "a." (no end before a lower-case word), "'a."
		// and "“a." are no initials.
		{"plan (a. the dog) runs", []string{"plan", "(", "a.", "the", "dog", ")", "runs"}},
		{"the letter 'a. the dog runs", []string{"the", "letter", "'", "a", ".", "the", "dog", "runs"}},
		{"the letter “a. the dog runs", []string{"the", "letter", "“", "a", ".", "the", "dog", "runs"}},
		{"it is the man's. the dog runs", []string{"it", "is", "the", "man", "'s", ".", "the", "dog", "runs"}},
	}
	for _, tc := range tests {
		if got := Tokenize(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Tokenize(%+q) = %+q, want %+q", tc.in, got, tc.want)
		}
	}
}

// TestLongCaptions: captions of hundreds of thousands of sentences, or of
// one Punkt group of as many marks (x."x."… has no whitespace, so Punkt
// decides all its marks together), give NLTK's tokens (checked on four
// repetitions) in linear time: a scan back to the start of the group for
// each mark made the second one quadratic and never finish.
func TestLongCaptions(t *testing.T) {
	t.Parallel()
	const n = 100_000
	tests := []struct {
		unit string
		want func(n int) int // tokens of n units
	}{
		{"dog. ", func(n int) int { return 2 * n }},
		{"x.\"", func(n int) int { return 2*n + 1 }},
		{"dog.) ", func(n int) int { return 3 * n }},
		{"!!", func(n int) int { return 2 * n }},
		{"cat.\u3000", func(n int) int { return n + 2 }},
	}
	for _, tc := range tests {
		if got := len(Tokenize(strings.Repeat(tc.unit, 4))); got != tc.want(4) {
			t.Errorf("%+q x 4: %d tokens, want %d", tc.unit, got, tc.want(4))
		}
		if got := len(Tokenize(strings.Repeat(tc.unit, n))); got != tc.want(n) {
			t.Errorf("%+q x %d: %d tokens, want %d", tc.unit, n, got, tc.want(n))
		}
	}
}
