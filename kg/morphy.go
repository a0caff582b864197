package kg

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
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

// Lemmatizer is WordNet's morphy against a set of known lemmas (the
// concepts of a graph): for each part of speech in the order noun, verb,
// adjective, adverb, the candidates are the exception-list bases, the word
// itself and the detachment-rule outputs; the first part of speech with a
// known candidate wins, and among its candidates the shortest (as NLTK's
// WordNet lemmatiser does): "dogs" -> "dog", "men" -> "man",
// "boxes" -> "box", "glasses" -> "glass".
type Lemmatizer struct {
	Exc Exceptions
	Has func(string) bool // whether a lemma is known
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
		for _, c := range l.Exc[p][word] {
			try(c)
		}
		try(word)
		for _, r := range detach[p] {
			if strings.HasSuffix(word, r[0]) && len(word) > len(r[0]) {
				try(word[:len(word)-len(r[0])] + r[1])
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
		out[i] = append(out[i], l.Exc[p][word]...)
		out[i] = append(out[i], word)
		for _, r := range detach[p] {
			if strings.HasSuffix(word, r[0]) && len(word) > len(r[0]) {
				out[i] = append(out[i], word[:len(word)-len(r[0])]+r[1])
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
