package tokenize

import (
	"bytes"
	"unicode/utf8"
)

// Sentence splitting. nltk.word_tokenize first splits text into sentences
// with the Punkt model (sent_tokenize) and tokenizes each sentence; that
// matters for one rule only: a period is split off a word when it ends a
// sentence ("dog." -> "dog", ".") and kept inside otherwise ("st." stays).
// The Punkt English model is data we do not ship, so sentenceEnd
// approximates its decisions on lower-cased text with the rules Punkt
// applies: a word ending in "?" or "!" ends a sentence; a word ending in a
// single "." ends one unless it is an abbreviation (a fixed list of common
// English ones, or a word with an inner period such as "u.s."), a single
// letter (an initial), or a number ("3."). Closing quotes and brackets after
// the mark stay with the sentence.

// abbreviations are common English abbreviations of the Punkt English
// model that can appear in captions (lower case, without the final period).
var abbreviations = map[string]bool{
	"mr": true, "mrs": true, "ms": true, "dr": true, "st": true, "jr": true, "sr": true,
	"vs": true, "etc": true, "inc": true, "ltd": true, "co": true, "corp": true, "mt": true,
	"ft": true, "prof": true, "rev": true, "ave": true, "blvd": true, "dept": true,
	"approx": true, "gov": true, "gen": true, "lt": true, "col": true, "sgt": true, "capt": true,
	"jan": true, "feb": true, "aug": true, "sept": true, "oct": true, "nov": true, "dec": true,
}

// sentenceEnd returns the length of the first sentence of b: up to the end
// of the word that ends it, or len(b). The next sentence starts after the
// whitespace that follows (see skipSpace), as in Punkt's slicing.
func sentenceEnd(b []byte) int {
	for off := 0; off < len(b); {
		p := bytes.IndexAny(b[off:], ".?!")
		if p < 0 {
			return len(b)
		}
		p += off
		start, end := p, p+1
		for start > 0 {
			r, sz := runeBefore(b, start)
			if isSpace(r) {
				break
			}
			start -= sz
		}
		for end < len(b) {
			sp, sz := spaceAt(b, end)
			if sp {
				break
			}
			end += sz
		}
		if endsSentence(b[start:end]) && hasWordAfter(b[end:]) {
			return end
		}
		off = end
	}
	return len(b)
}

func hasWordAfter(b []byte) bool { return skipSpace(b) < len(b) }

// skipSpace returns the length of the leading whitespace (Python's \s) of b.
func skipSpace(b []byte) int {
	for i := 0; i < len(b); {
		sp, sz := spaceAt(b, i)
		if !sp {
			return i
		}
		i += sz
	}
	return len(b)
}

// trimSpaceEnd returns the length of b without its trailing whitespace.
func trimSpaceEnd(b []byte) int {
	end := len(b)
	for end > 0 {
		_, sz := utf8.DecodeLastRune(b[:end])
		if sp, _ := spaceAt(b, end-sz); !sp {
			break
		}
		end -= sz
	}
	return end
}

func isCloser(r rune) bool {
	switch r {
	case '"', '\'', ')', ']', '}', '”', '’', '»':
		return true
	}
	return false
}

func isOpener(r rune) bool {
	switch r {
	case '"', '\'', '(', '[', '{', '“', '‘', '«', '`':
		return true
	}
	return false
}

// endsSentence decides whether the word w (no whitespace) ends a sentence.
func endsSentence(w []byte) bool {
	e := len(w)
	for e > 0 {
		r, sz := runeBefore(w, e)
		if !isCloser(r) {
			break
		}
		e -= sz
	}
	if e == 0 {
		return false
	}
	switch w[e-1] {
	case '?', '!':
		return true
	case '.':
	default:
		return false
	}
	if e >= 2 && w[e-2] == '.' {
		return false // ellipsis
	}
	stem := w[:e-1]
	for len(stem) > 0 {
		r, sz := runeAt(stem, 0)
		if !isOpener(r) {
			break
		}
		stem = stem[sz:]
	}
	if len(stem) == 0 {
		return true
	}
	if abbreviations[string(stem)] {
		return false
	}
	numeric, periods, digits, runes := true, 0, 0, 0
	for i := 0; i < len(stem); {
		r, sz := runeAt(stem, i)
		runes++
		switch {
		case r == '.':
			periods++
		case r == ',' || r == '-':
		case isDecimal(r):
			digits++
		default:
			numeric = false
		}
		i += sz
	}
	if periods > 0 || (numeric && digits > 0) {
		return false
	}
	if r, _ := runeAt(stem, 0); runes == 1 && isWord(r) {
		return false // an initial
	}
	return true
}
