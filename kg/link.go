package kg

import "strings"

// MaxNGram is the longest n-gram linked to a concept.
const MaxNGram = 3

// Linker links token sequences to concepts of a graph.
type Linker struct {
	has   func(string) bool
	lemma *Lemmatizer
	cache map[string]lemmaEntry
	// starts, when not nil, holds the first words of the multi-word
	// concepts: n-grams starting elsewhere are not tried.
	starts map[string]bool
}

type lemmaEntry struct {
	lemma string
	ok    bool
}

// NewLinker returns a linker against the concepts for which has is true,
// lemmatising with WordNet's exception lists ex.
func NewLinker(has func(string) bool, ex Exceptions) *Linker {
	return &Linker{has: has, lemma: &Lemmatizer{Exc: ex, Has: has}, cache: map[string]lemmaEntry{}}
}

// SetStarts restricts n-gram lookups to n-grams whose first word starts
// some multi-word concept: an optimisation for large graphs; concepts
// lists (a superset of) the multi-word concepts.
func (l *Linker) SetStarts(concepts []string) {
	l.starts = map[string]bool{}
	for _, c := range concepts {
		if i := strings.IndexByte(c, '_'); i > 0 {
			l.starts[c[:i]] = true
		}
	}
}

// Lemma returns the concept a single word links to (its lemma), if any;
// stop words never link.
func (l *Linker) Lemma(w string) (string, bool) {
	if e, ok := l.cache[w]; ok {
		return e.lemma, e.ok
	}
	var e lemmaEntry
	if !IsStopWord(w) {
		e.lemma, e.ok = l.lemma.Lemma(w)
		if e.ok && IsStopWord(e.lemma) {
			e = lemmaEntry{}
		}
	}
	l.cache[w] = e
	return e.lemma, e.ok
}

// Link returns the concepts in words, in order, scanning left to right and
// trying the longest n-gram first (MaxNGram down to 1). An n-gram of two or
// more words links if it neither starts nor ends with a stop word and one of
// these forms is a concept: the words joined with '_' ("fire_hydrant"), the
// same with the last word lemmatised ("hot dogs" -> "hot_dog"). A single
// word links through [Linker.Lemma]. Linked words are consumed.
func (l *Linker) Link(words []string, fn func(concept string, start, n int)) {
	var sb strings.Builder
	for i := 0; i < len(words); {
		linked := false
		maxN := min(MaxNGram, len(words)-i)
		if l.starts != nil && !l.starts[words[i]] {
			maxN = 1
		}
		for n := maxN; n >= 2 && !linked; n-- {
			if IsStopWord(words[i]) || IsStopWord(words[i+n-1]) {
				continue
			}
			sb.Reset()
			for k := 0; k < n; k++ {
				if k > 0 {
					sb.WriteByte('_')
				}
				sb.WriteString(words[i+k])
			}
			c := sb.String()
			if !l.has(c) {
				last, ok := l.Lemma(words[i+n-1])
				if !ok || last == words[i+n-1] {
					continue
				}
				c = c[:len(c)-len(words[i+n-1])] + last
				if !l.has(c) {
					continue
				}
			}
			fn(c, i, n)
			i += n
			linked = true
		}
		if linked {
			continue
		}
		if c, ok := l.Lemma(words[i]); ok {
			fn(c, i, 1)
		}
		i++
	}
}
