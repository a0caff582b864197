package kg

import (
	"strings"
	"sync"
)

// embeddedCrossings parses the compiled-in Crossings once.
var embeddedCrossings = sync.OnceValue(EmbeddedCrossings)

// MaxNGram is the longest n-gram linked to a concept.
const MaxNGram = 3

// Linker links token sequences to concepts of a graph.
type Linker struct {
	has   func(string) bool
	lemma *Lemmatizer
	cache map[string]lemmaEntry
	// starts and ends, when not nil, hold the first and last words of the
	// multi-word concepts: n-grams starting elsewhere are not tried, and a
	// last word is only lemmatised to a form that ends one.
	starts, ends map[string]bool
	// lastCands caches, per n-gram last word, its morphy candidates by
	// part of speech that may end a multi-word concept (nil: none).
	lastCands map[string][][]string
	// prefix is the argument of the lemmaLast call running, read by
	// lastKnown (a method value made once, not a closure per call).
	prefix    string
	lastKnown func(string) bool
}

type lemmaEntry struct {
	lemma string
	ok    bool
}

// NewLinker returns a linker against the concepts for which has is true,
// lemmatising with WordNet's exception lists ex and WordNet 3.0's
// part-of-speech [Crossings] (compiled in).
func NewLinker(has func(string) bool, ex Exceptions) *Linker {
	l := &Linker{has: has, lemma: &Lemmatizer{Exc: ex, Cross: embeddedCrossings(), Has: has}, cache: map[string]lemmaEntry{},
		lastCands: map[string][][]string{}}
	l.lastKnown = l.completesNGram
	return l
}

// SetStarts restricts n-gram lookups to n-grams whose first word starts
// some multi-word concept: an optimisation for large graphs; concepts
// lists (a superset of) the multi-word concepts.
func (l *Linker) SetStarts(concepts []string) {
	l.starts, l.ends = map[string]bool{}, map[string]bool{}
	clear(l.lastCands)
	for _, c := range concepts {
		if i := strings.IndexByte(c, '_'); i > 0 {
			l.starts[c[:i]] = true
			l.ends[c[strings.LastIndexByte(c, '_')+1:]] = true
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
		if !e.ok && strings.Contains(w, "-") {
			// ConceptNet splits words at hyphens in its URIs ("t-shirt" is
			// /c/en/t_shirt) while the tokenizer keeps them whole
			e.lemma, e.ok = l.lemma.Lemma(HyphensToUnderscores(w))
		}
		if e.ok && IsStopWord(e.lemma) {
			e = lemmaEntry{}
		}
	}
	l.cache[w] = e
	return e.lemma, e.ok
}

// HyphensToUnderscores writes a hyphenated word the way ConceptNet's URIs
// write it: "t-shirt" -> "t_shirt".
func HyphensToUnderscores(w string) string { return strings.ReplaceAll(w, "-", "_") }

// Link returns the concepts in words, in order, scanning left to right and
// trying the longest n-gram first (MaxNGram down to 1). An n-gram of two or
// more words links if it neither starts nor ends with a stop word (inner
// stop words are fine: "cup of tea" -> "cup_of_tea") and one of these forms
// is a concept: the words joined with '_' ("fire_hydrant"), the same with
// the last word lemmatised ("hot dogs" -> "hot_dog", whether or not "dog"
// alone is a concept), and, for n-grams with a hyphenated word, both again
// with the hyphens written as ConceptNet writes them ("x-ray machines" ->
// "x_ray_machine"). A single word links through [Linker.Lemma]. Linked
// words are consumed.
func (l *Linker) Link(words []string, fn func(concept string, start, n int)) {
	var sb strings.Builder
	for i := 0; i < len(words); {
		linked := false
		maxN := min(MaxNGram, len(words)-i)
		if l.starts != nil && !l.starts[words[i]] && !l.starts[firstPart(words[i])] {
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
			c, ok := l.ngram(sb.String(), words[i+n-1])
			if !ok && strings.Contains(c, "-") {
				// as ConceptNet writes hyphenated words: "x-ray machine"
				// is /c/en/x_ray_machine
				c, ok = l.ngram(HyphensToUnderscores(c), HyphensToUnderscores(words[i+n-1]))
			}
			if !ok {
				continue
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

// ngram returns the concept the n-gram c (its words joined with '_', the
// last one last) links to: c itself, or c with its last word lemmatised.
func (l *Linker) ngram(c, last string) (string, bool) {
	if l.has(c) {
		return c, true
	}
	if lc, ok := l.lemmaLast(c[:len(c)-len(last)], last); ok {
		return lc, true
	}
	return c, false
}

// firstPart returns a hyphenated word's part before its first hyphen ("x"
// of "x-ray"), the first word of the concepts it may start; "" for other
// words.
func firstPart(w string) string {
	if i := strings.IndexByte(w, '-'); i > 0 {
		return w[:i]
	}
	return ""
}

// lastPart returns the part of c after its last underscore: the word of a
// multi-word concept a candidate for an n-gram's last word ends it with
// ("cream" of "ice_cream", for "chocolate ice-creams").
func lastPart(c string) string { return c[strings.LastIndexByte(c, '_')+1:] }

// lemmaLast lemmatises the last word of an n-gram against the n-gram's
// concepts: morphy over last's candidates (see [Lemmatizer]), where a
// candidate is known when prefix+candidate is a concept and the candidate
// is not a stop word, whether or not the candidate alone is a concept.
// prefix is the n-gram's other words, each followed by '_'. The word as
// written is not tried again (Link looked it up).
func (l *Linker) lemmaLast(prefix, last string) (string, bool) {
	cands, ok := l.lastCands[last]
	if !ok {
		// Keep only the candidates that can end a multi-word concept, so
		// most words cost one map lookup here.
		for i, cs := range l.lemma.posCandidates(last) {
			for _, c := range cs {
				if c != last && c != "" && (l.ends == nil || l.ends[lastPart(c)]) && !IsStopWord(c) {
					if cands == nil {
						cands = make([][]string, len(posOrder))
					}
					cands[i] = append(cands[i], c)
				}
			}
		}
		l.lastCands[last] = cands
	}
	if cands == nil {
		return "", false
	}
	l.prefix = prefix
	lem, ok := pickLemma(cands, l.lastKnown)
	if !ok {
		return "", false
	}
	return prefix + lem, true
}

// completesNGram reports whether c, a candidate for the last word of the
// n-gram of the running lemmaLast call, makes the n-gram a concept.
func (l *Linker) completesNGram(c string) bool { return l.has(l.prefix + c) }
