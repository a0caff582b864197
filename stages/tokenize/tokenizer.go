package tokenize

import (
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Tokenizer splits captions into word tokens the way SCAN does:
// nltk.word_tokenize(caption.lower()). See the package documentation for
// the exact rules. A Tokenizer keeps its buffers between calls; it is not
// safe for concurrent use (use one per goroutine, or [Tokenize]).
type Tokenizer struct {
	w       work
	norm    []byte
	out     []byte
	spans   []span
	views   [][]byte
	invalid int
}

type span struct{ lo, hi int }

// work holds the two ping-pong buffers of the rewrite passes.
type work struct{ x, y []byte }

// NewTokenizer returns a Tokenizer.
func NewTokenizer() *Tokenizer { return &Tokenizer{} }

// Tokens returns the tokens of s as new strings.
func (t *Tokenizer) Tokens(s string) []string { return t.AppendTokens(nil, s) }

// AppendTokens appends the tokens of s to dst and returns it. The tokens of
// one call share one backing string (one allocation per call).
func (t *Tokenizer) AppendTokens(dst []string, s string) []string {
	t.tokenize(s)
	if len(t.spans) == 0 {
		return dst
	}
	all := string(t.out)
	for _, sp := range t.spans {
		dst = append(dst, all[sp.lo:sp.hi])
	}
	return dst
}

// Split tokenizes s and returns the tokens as byte slices that point into
// the Tokenizer's buffers: they are valid only until the next call and must
// not be modified. It allocates nothing once the buffers have grown, which
// is what the stage uses to count and encode tokens.
func (t *Tokenizer) Split(s string) [][]byte {
	t.tokenize(s)
	t.views = t.views[:0]
	for _, sp := range t.spans {
		t.views = append(t.views, t.out[sp.lo:sp.hi:sp.hi])
	}
	return t.views
}

// Invalid returns how many invalid UTF-8 bytes the last call replaced with
// U+FFFD.
func (t *Tokenizer) Invalid() int { return t.invalid }

var pool = sync.Pool{New: func() any { return NewTokenizer() }}

// Tokenize returns the tokens of s. It is safe for concurrent use; loops
// over many strings are faster with their own [Tokenizer].
func Tokenize(s string) []string {
	t := pool.Get().(*Tokenizer)
	defer pool.Put(t)
	return t.Tokens(s)
}

// TokenizePhrase tokenizes a multi-word name written with underscores, such
// as a ConceptNet concept ("hot_dog", "ice_cream"): underscores become
// spaces, then the text is tokenized exactly like a caption, so a concept
// and a caption mentioning it give the same tokens.
func TokenizePhrase(name string) []string {
	return Tokenize(strings.ReplaceAll(name, "_", " "))
}

// Normalize returns s as the tokenizer sees it before splitting: invalid
// UTF-8 bytes replaced by U+FFFD, Unicode NFC, lower case.
func Normalize(s string) string {
	t := pool.Get().(*Tokenizer)
	defer pool.Put(t)
	return string(t.normalize(s))
}

// normalize writes the normalised s into t.norm and returns it.
func (t *Tokenizer) normalize(s string) []byte {
	t.invalid = 0
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		b := append(t.norm[:0], s...)
		for i, c := range b {
			if 'A' <= c && c <= 'Z' {
				b[i] = c + 'a' - 'A'
			}
		}
		t.norm = b
		return b
	}
	if !utf8.ValidString(s) {
		var sb strings.Builder
		sb.Grow(len(s) + 8)
		for i := 0; i < len(s); {
			r, sz := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && sz == 1 {
				t.invalid++
			}
			sb.WriteRune(r)
			i += sz
		}
		s = sb.String()
	}
	if !norm.NFC.IsNormalString(s) {
		s = norm.NFC.String(s)
	}
	s = strings.ToLower(s)
	// Lower-casing can leave NFC: J + caron has no precomposed capital but
	// its small letter is U+01F0, and U+0130 + acute becomes i + acute.
	// NFC again, so that capitals and small letters give one token.
	if !norm.NFC.IsNormalString(s) {
		s = norm.NFC.String(s)
	}
	t.norm = append(t.norm[:0], s...)
	return t.norm
}

// tokenize fills t.out and t.spans with the tokens of s.
func (t *Tokenizer) tokenize(s string) {
	b := t.normalize(s)
	// Punkt's last sentence ends at the text's last token: trailing
	// whitespace is dropped, so a final "'s" is split off as at the end of
	// the text ("a dog's\n" -> a dog 's).
	b = b[:trimSpaceEnd(b)]
	t.out = t.out[:0]
	t.spans = t.spans[:0]
	sp := newPunkt(b)
	for pos := 0; pos < len(b); {
		end := sp.next()
		t.w.x = append(t.w.x[:0], b[pos:end]...)
		// Punkt starts the next sentence at its first token: its leading
		// whitespace is dropped, so that rules anchored at the start of
		// the text (a starting '"' becomes ``) apply to it. The text's own
		// leading whitespace stays with the first sentence, as in Punkt.
		pos = end + skipSpace(b[end:])
		t.w.treebank()
		t.collect(t.w.x)
	}
}

// collect appends the whitespace-separated fields of b to t.out/t.spans.
func (t *Tokenizer) collect(b []byte) {
	i := 0
	for {
		// skip whitespace
		for i < len(b) {
			if c := b[i]; c < utf8.RuneSelf {
				if !asciiSpace[c] {
					break
				}
				i++
			} else if sp, sz := spaceAt(b, i); sp {
				i += sz
			} else {
				break
			}
		}
		if i >= len(b) {
			return
		}
		j := i
		for j < len(b) {
			if c := b[j]; c < utf8.RuneSelf {
				if asciiSpace[c] {
					break
				}
				j++
			} else if sp, sz := spaceAt(b, j); !sp {
				j += sz
			} else {
				break
			}
		}
		lo := len(t.out)
		t.out = append(t.out, b[i:j]...)
		t.spans = append(t.spans, span{lo, len(t.out)})
		i = j
	}
}
