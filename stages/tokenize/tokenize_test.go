package tokenize

import (
	"coderflow/internal/testenv"
	"flag"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const goldenFile = "testdata/tokenize.golden"

// goldenLine renders one case: the input and its tokens, Go-quoted.
func goldenLine(in string, toks []string) string {
	return strconv.Quote(in) + " => " + strconv.Quote(strings.Join(toks, " "))
}

func TestGolden(t *testing.T) {
	var b strings.Builder
	b.WriteString("# tokenize golden cases: Go-quoted caption => Go-quoted tokens joined by one space.\n")
	b.WriteString("# Regenerate with: go test ./stages/tokenize -run TestGolden -update\n")
	for _, c := range goldenCases {
		b.WriteString(goldenLine(c, Tokenize(c)) + "\n")
	}
	got := b.String()
	if *update {
		if err := os.WriteFile(goldenFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("line %d:\n got %s\nwant %s", i+1, g, w)
			}
		}
	}
}

// TestTokenize pins the behaviours the issue names, independently of the
// golden file.
func TestTokenize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in string
		want     []string
	}{
		{"issue example", "A man's dog can't jump.", []string{"a", "man", "'s", "dog", "ca", "n't", "jump", "."}},
		{"don't", "don't", []string{"do", "n't"}},
		{"i'm", "I'm here", []string{"i", "'m", "here"}},
		{"quotes", `"Hello," she said.`, []string{"``", "hello", ",", "''", "she", "said", "."}},
		{"hyphen", "a t-shirt", []string{"a", "t-shirt"}},
		{"numbers", "3.5 and 1,000 at 5:30", []string{"3.5", "and", "1,000", "at", "5:30"}},
		{"comma", "a dog, a cat", []string{"a", "dog", ",", "a", "cat"}},
		{"two sentences", "A dog. A cat.", []string{"a", "dog", ".", "a", "cat", "."}},
		{"abbreviation", "St. Mary's", []string{"st.", "mary", "'s"}},
		{"question", "why? because!", []string{"why", "?", "because", "!"}},
		// Punkt starts a sentence at its first token, so a quote that opens
		// it after a newline or tab is a starting quote; the text's own
		// leading whitespace stays (NLTK 3.8: sent_tokenize, then
		// NLTKWordTokenizer on each sentence).
		{"quote after newline", "dog.\n\"hi\" there", []string{"dog", ".", "``", "hi", "''", "there"}},
		{"quote after tab", "dog.\t\"hi\" there", []string{"dog", ".", "``", "hi", "''", "there"}},
		{"quote after blank lines", "dog.\n\n  \"hi\" there  \n", []string{"dog", ".", "``", "hi", "''", "there"}},
		{"closing then opening quote", "dog.\"\n\"hi\" there", []string{"dog", ".", "''", "``", "hi", "''", "there"}},
		{"leading newline kept", "\n\"hi\" there. a cat", []string{"''", "hi", "''", "there", ".", "a", "cat"}},
		// and it ends the last sentence at its last token: trailing
		// whitespace goes, so a final 's is split off (NLTK 3.8)
		{"trailing newline", "a dog's\n", []string{"a", "dog", "'s"}},
		{"trailing spaces", "a dog's \t\n", []string{"a", "dog", "'s"}},
		{"trailing nbsp", "a dog's\u00a0", []string{"a", "dog", "'s"}},
		{"empty", "", nil},
		{"blank", " \t\n ", nil},
		{"mixed case", "MiXeD CaSe", []string{"mixed", "case"}},
		{"emoji", "dog 🐶", []string{"dog", "🐶"}},
		{"invalid utf8", "a\xffb", []string{"a\ufffdb"}},
		{"nfc", "cafe\u0301", []string{"caf\u00e9"}},
		{"flickr8k style", "A child in a pink dress is climbing up a set of stairs in an entry way .",
			[]string{"a", "child", "in", "a", "pink", "dress", "is", "climbing", "up", "a", "set", "of", "stairs", "in", "an", "entry", "way", "."}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Tokenize(c.in)
			if !slices.Equal(got, c.want) {
				t.Errorf("Tokenize(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestTokenizePhrase(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		"hot_dog":        {"hot", "dog"},
		"Ice_Cream":      {"ice", "cream"},
		"t-shirt":        {"t-shirt"},
		"dog":            {"dog"},
		"rock_'n'_roll":  {"rock", "'n", "'", "roll"},
		"_":              nil,
		"new_york_city.": {"new", "york", "city", "."},
	} {
		if got := TokenizePhrase(in); !slices.Equal(got, want) {
			t.Errorf("TokenizePhrase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInvalidCount(t *testing.T) {
	tk := NewTokenizer()
	tk.Tokens("ok \xff\xfe x \xc3")
	if tk.Invalid() != 3 {
		t.Errorf("Invalid() = %d, want 3", tk.Invalid())
	}
	tk.Tokens("fine")
	if tk.Invalid() != 0 {
		t.Errorf("Invalid() after a valid caption = %d", tk.Invalid())
	}
}

func TestSplitMatchesTokens(t *testing.T) {
	tk := NewTokenizer()
	for _, c := range goldenCases {
		var views []string
		for _, v := range tk.Split(c) {
			views = append(views, string(v))
		}
		if want := Tokenize(c); !slices.Equal(views, want) {
			t.Errorf("Split(%q) = %q, Tokens = %q", c, views, want)
		}
	}
}

func checkTokens(t *testing.T, in string, toks []string) {
	t.Helper()
	for _, tok := range toks {
		if tok == "" {
			t.Fatalf("Tokenize(%q): empty token in %q", in, toks)
		}
		if !utf8.ValidString(tok) {
			t.Fatalf("Tokenize(%q): invalid UTF-8 token %q", in, tok)
		}
		for _, r := range tok {
			if isSpace(r) {
				t.Fatalf("Tokenize(%q): token %q contains whitespace", in, tok)
			}
		}
	}
}

func FuzzTokenize(f *testing.F) {
	for _, c := range goldenCases {
		f.Add(c)
	}
	reused := NewTokenizer()
	f.Fuzz(func(t *testing.T, s string) {
		a := Tokenize(s)
		checkTokens(t, s, a)
		reused.Tokens("a warm-up caption, with \"quotes\" and can't.")
		b := reused.Tokens(s)
		if !slices.Equal(a, b) {
			t.Fatalf("Tokenize(%q) is not deterministic: %q vs %q", s, a, b)
		}
	})
}

func sharedData(t testing.TB, rel string) string { return testenv.SharedData(t, rel) }

func findSharedData(rel string) (string, bool) { return testenv.FindSharedData(rel) }
