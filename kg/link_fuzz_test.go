package kg

import (
	"strings"
	"testing"
)

// FuzzLink: linking any token sequence (odd bytes, hyphens, underscores,
// empty tokens) never panics, reports spans inside the sequence that
// follow each other without overlap, links only known concepts, never a
// stop word alone, and gives the same result with SetStarts (an
// optimisation only).
func FuzzLink(f *testing.F) {
	f.Add("a cup of tea and hot dogs near x-ray machines")
	f.Add("children in clothes read the news - ice-creams gas oases")
	f.Add("  - -- _ x- -ray a_ _b \x00 \xff men's ' n't")
	concepts := []string{"cup_of_tea", "hot_dog", "dog", "x_ray_machine", "x_ray", "machine", "child", "clothes",
		"news", "ice_cream", "gas", "oasis", "tea", "cup", "a_b", "ray", "x", "men", "man", "the_news", "of"}
	has := setOf(concepts...)
	ex := EmbeddedExceptions() // read only
	known := map[string]bool{}
	for _, c := range concepts {
		known[c] = true
	}
	f.Fuzz(func(t *testing.T, s string) {
		words := strings.Split(s, " ")
		if len(words) > 64 {
			words = words[:64]
		}
		type link struct {
			c        string
			start, n int
		}
		run := func(starts bool) []link {
			l := NewLinker(has, ex)
			if starts {
				l.SetStarts(concepts)
			}
			var out []link
			next := 0
			l.Link(words, func(c string, start, n int) {
				if start < next || n < 1 || n > MaxNGram || start+n > len(words) {
					t.Fatalf("%q: span %d+%d after position %d", words, start, n, next)
				}
				if !known[c] {
					t.Fatalf("%q: linked %q, not a concept", words, c)
				}
				if n == 1 && IsStopWord(words[start]) {
					t.Fatalf("%q: stop word %q linked as %q", words, words[start], c)
				}
				next = start + n
				out = append(out, link{c, start, n})
			})
			return out
		}
		a, b := run(false), run(true)
		if len(a) != len(b) {
			t.Fatalf("%q: without starts %v, with %v", words, a, b)
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%q: without starts %v, with %v", words, a, b)
			}
		}
	})
}
