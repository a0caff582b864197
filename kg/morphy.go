package kg

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"coderflow/kg/embedded"
)

// Exceptions are WordNet's morphological exception lists by part of speech
// (n, v, a, r): inflected form -> base forms ("mice" -> "mouse").
type Exceptions map[byte]map[string][]string

// ParseExceptions parses one WordNet .exc file ("inflected base...").
func ParseExceptions(b []byte) map[string][]string {
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 {
			m[f[0]] = append(m[f[0]], f[1:]...)
		}
	}
	return m
}

// EmbeddedExceptions returns WordNet 3.0's exception lists compiled into the
// binary (kg/embedded).
func EmbeddedExceptions() Exceptions {
	ex := Exceptions{}
	for _, p := range WordNetPOS {
		ex[p.Code[0]] = ParseExceptions(embedded.Exceptions(p.File))
	}
	return ex
}

// morphy's detachment rules (WordNet morph.c), by part of speech.
var detach = map[byte][][2]string{
	'n': {{"s", ""}, {"ses", "s"}, {"xes", "x"}, {"zes", "z"}, {"ches", "ch"}, {"shes", "sh"}, {"men", "man"}, {"ies", "y"}},
	'v': {{"s", ""}, {"ies", "y"}, {"es", "e"}, {"es", ""}, {"ed", "e"}, {"ed", ""}, {"ing", "e"}, {"ing", ""}},
	'a': {{"er", ""}, {"est", ""}, {"er", "e"}, {"est", "e"}},
	'r': {},
}

var posOrder = []byte{'n', 'v', 'a', 'r'}

// Crossings are the detachment-rule outputs that morphy must not propose,
// by part of speech (n, v, a): word -> outputs of that part of speech's
// rules that are WordNet lemmas of other parts of speech only, for the
// words that have another candidate of that part of speech: its lemmas
// ("clothes" -> "clothe": "clothe" is a verb, so the noun "clothes" stays
// "clothes"; likewise goggles, news, outdoors, scissors, athletics) and
// the words of its exception list ("diagnoses" -> "diagnose": the noun is
// the exception base "diagnosis"). morphy checks each candidate against
// the lemmas of the part of speech it tries; a graph's concepts have no
// part of speech, so the lemmatiser needs this list to make the same
// choice.
type Crossings map[byte]map[string][]string

// ComputeCrossings returns the [Crossings] of a dictionary whose lemmas by
// part of speech (n, v, a, r) are lemmas and whose exception lists are ex.
func ComputeCrossings(lemmas map[byte]map[string]bool, ex Exceptions) Crossings {
	cr := Crossings{}
	for _, p := range posOrder {
		words := maps.Clone(lemmas[p])
		for w := range ex[p] {
			words[w] = true
		}
		for w := range words {
			for _, r := range detach[p] {
				if !strings.HasSuffix(w, r[0]) || len(w) <= len(r[0]) {
					continue
				}
				c := w[:len(w)-len(r[0])] + r[1]
				if c == w || lemmas[p][c] {
					continue
				}
				other := false
				for _, q := range posOrder {
					other = other || lemmas[q][c]
				}
				if other && !slices.Contains(cr[p][w], c) {
					if cr[p] == nil {
						cr[p] = map[string][]string{}
					}
					cr[p][w] = append(cr[p][w], c)
				}
			}
		}
	}
	return cr
}

// WriteCrossings writes cr as lines "pos word output", sorted.
func WriteCrossings(w io.Writer, cr Crossings) error {
	var lines []string
	for p, m := range cr {
		for word, cs := range m {
			for _, c := range cs {
				lines = append(lines, string(p)+" "+word+" "+c)
			}
		}
	}
	slices.Sort(lines)
	bw := bufio.NewWriter(w)
	for _, l := range lines {
		bw.WriteString(l)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// ParseCrossings parses what [WriteCrossings] writes; other lines ('#'
// comments, blank lines) are ignored.
func ParseCrossings(b []byte) Crossings {
	cr := Crossings{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || len(f[0]) != 1 || strings.HasPrefix(f[0], "#") {
			continue
		}
		p := f[0][0]
		if cr[p] == nil {
			cr[p] = map[string][]string{}
		}
		cr[p][f[1]] = append(cr[p][f[1]], f[2])
	}
	return cr
}

// EmbeddedCrossings returns WordNet 3.0's [Crossings] compiled into the
// binary (kg/embedded/wordnet/pos-crossings.txt).
func EmbeddedCrossings() Crossings { return ParseCrossings(embedded.Crossings()) }

// rule reports whether the output c of part of speech p's rules for word
// is one morphy proposes (not a [Crossings] entry).
func (cr Crossings) rule(p byte, word, c string) bool {
	return !slices.Contains(cr[p][word], c)
}

// Lemmatizer is WordNet's morphy against a set of known lemmas (the
// concepts of a graph): for each part of speech in the order noun, verb,
// adjective, adverb, the candidates are the exception-list bases, the word
// itself and the detachment-rule outputs (none for a word in that part of
// speech's exception list, as in morphy and NLTK: "gas", listed as
// "gas gas", stays gas, not gallium's "ga"; "oases" is oasis only); the
// first part of speech with a known candidate wins, and among its
// candidates the shortest (as NLTK's WordNet lemmatiser does): "dogs" ->
// "dog", "men" -> "man", "boxes" -> "box", "glasses" -> "glass".
//
// Cross, when set, removes the rule outputs of another part of speech only
// ([Crossings]): with it "clothes" -> "clothes", "news" -> "news",
// "goggles" -> "goggles", as NLTK's lemmatiser gives, and not the verb
// "clothe", the adjective "new", the verb "goggle".
type Lemmatizer struct {
	Exc   Exceptions
	Cross Crossings
	Has   func(string) bool // whether a lemma is known
}

// Candidates returns every form morphy may propose for word, known or not
// (the word itself first).
func (l *Lemmatizer) Candidates(word string) []string {
	out := []string{word}
	for _, p := range posOrder {
		out = append(out, l.Exc[p][word]...)
		for _, r := range detach[p] {
			if strings.HasSuffix(word, r[0]) && len(word) > len(r[0]) {
				out = append(out, word[:len(word)-len(r[0])]+r[1])
			}
		}
	}
	return out
}

// Lemma returns the lemma of word and whether one is known.
func (l *Lemmatizer) Lemma(word string) (string, bool) {
	for _, p := range posOrder {
		best := ""
		try := func(c string) {
			if c != "" && (best == "" || len(c) < len(best)) && l.Has(c) {
				best = c
			}
		}
		bases, exc := l.Exc[p][word]
		for _, c := range bases {
			try(c)
		}
		try(word)
		for _, r := range detach[p] {
			if exc {
				break // morphy applies no rule to an exception-list word
			}
			if strings.HasSuffix(word, r[0]) && len(word) > len(r[0]) {
				if c := word[:len(word)-len(r[0])] + r[1]; l.Cross.rule(p, word, c) {
					try(c)
				}
			}
		}
		if best != "" {
			return best, true
		}
	}
	return "", false
}

// posCandidates returns morphy's candidates for word by part of speech, in
// the order noun, verb, adjective, adverb; each in the order Lemma tries
// them: the exception-list bases, the word itself, the detachment-rule
// outputs. pickLemma(posCandidates(w), Has) is Lemma(w) (tested); Lemma
// itself allocates no groups, since it runs once per vocabulary word.
func (l *Lemmatizer) posCandidates(word string) [][]string {
	out := make([][]string, len(posOrder))
	for i, p := range posOrder {
		bases, exc := l.Exc[p][word]
		out[i] = append(out[i], bases...)
		out[i] = append(out[i], word)
		for _, r := range detach[p] {
			if exc {
				break // as in Lemma
			}
			if strings.HasSuffix(word, r[0]) && len(word) > len(r[0]) {
				if c := word[:len(word)-len(r[0])] + r[1]; l.Cross.rule(p, word, c) {
					out[i] = append(out[i], c)
				}
			}
		}
	}
	return out
}

// pickLemma is morphy's choice among candidates grouped by part of speech
// (see [Lemmatizer]): the first group with a known candidate, and in it the
// shortest known one (the first of equal length).
func pickLemma(groups [][]string, known func(string) bool) (string, bool) {
	for _, g := range groups {
		best := ""
		for _, c := range g {
			if c != "" && (best == "" || len(c) < len(best)) && known(c) {
				best = c
			}
		}
		if best != "" {
			return best, true
		}
	}
	return "", false
}

// ReadExceptions reads the exception lists (noun.exc, verb.exc, adj.exc,
// adv.exc) of a WordNet dictionary directory. A missing list is an error.
func ReadExceptions(dir string) (Exceptions, error) {
	ex := Exceptions{}
	for _, p := range WordNetPOS {
		b, err := os.ReadFile(filepath.Join(dir, p.File+".exc"))
		if err != nil {
			return nil, fmt.Errorf("kg: wordnet exceptions: %w", err)
		}
		ex[p.Code[0]] = ParseExceptions(b)
	}
	return ex, nil
}
