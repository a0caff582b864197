package tokenize

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Sentence splitting. nltk.word_tokenize first splits text into sentences
// with the Punkt model (sent_tokenize) and tokenizes each sentence; that
// matters for one rule only: a period is split off a word when it ends a
// sentence ("dog." -> "dog", ".") and kept inside otherwise ("st." stays).
// The Punkt English model is data we do not ship, so [punkt]
// approximates its decisions on lower-cased text with the rules Punkt
// applies, about the token Punkt's word tokenizer cuts before the mark (see
// punktLastToken): a token ending in "?" or "!" ends a sentence; a token
// ending in a single "." ends one unless it is an abbreviation (a fixed
// list of common English ones, also after a hyphen, or a word with an inner
// period such as "u.s."), a single letter (an initial), or a number ("3.").
//
// Where Punkt looks for a sentence end, and where it cuts the text, does
// not depend on the model, and [punkt] follows it exactly
// (nltk/tokenize/punkt.py, NLTK 3.8):
//
//   - A candidate is a ".", "?" or "!" followed by one of ) " ; } ] * : @ '
//     ( { [ ? ! or by whitespace and a token (_period_context_fmt). A mark
//     followed by anything else, such as a curly quote (dog.” the), is
//     none.
//   - Candidates with no ASCII whitespace between them form one group
//     (_match_potential_end_contexts keeps the last, with a context that
//     spans them all), unless the word before the earlier one is empty:
//     the sentence ends after the group's last candidate if the word
//     before any of them ends a sentence.
//   - The next sentence starts at the token after the whitespace, or at the
//     punctuation after the mark (_slices_from_text).
//   - Closing quotes and brackets (" ' ) ] }) that start the next sentence
//     and are followed by whitespace, "--" or the end move back to the
//     sentence that ended (_realign_boundaries), with the whitespace before
//     them: "a dog. ) x" is cut after the ")".

// abbreviations are common English abbreviations of the Punkt English
// model that can appear in captions (lower case, without the final period).
var abbreviations = map[string]bool{
	"mr": true, "mrs": true, "ms": true, "dr": true, "st": true, "jr": true, "sr": true,
	"vs": true, "etc": true, "inc": true, "ltd": true, "co": true, "corp": true, "mt": true,
	"ft": true, "prof": true, "rev": true, "ave": true, "blvd": true, "dept": true,
	"approx": true, "gov": true, "gen": true, "lt": true, "col": true, "sgt": true, "capt": true,
	"jan": true, "feb": true, "aug": true, "sept": true, "oct": true, "nov": true, "dec": true,
}

// punkt finds the sentence ends of a text one after the other, as Punkt's
// _match_potential_end_contexts and _slices_from_text do over the whole
// text: the word before a candidate starts after the last ASCII whitespace
// since the previous candidate or, if there is none, where the previous
// candidate's word started; the previous candidate gets its own decision
// only if its mark is at or before that start (it is absorbed into this
// candidate's context otherwise).
type punkt struct {
	b         []byte
	off       int  // where the search for marks goes on
	last      int  // the pending candidate, or -1
	lastNext  int  // where the sentence after it would start
	wordStart int  // where its word starts
	brk       bool // whether a word of its context ends a sentence
}

func newPunkt(b []byte) punkt { return punkt{b: b, last: -1} }

// next returns the end of the next sentence (after Punkt's realignment),
// or len(b) when there is none. The sentence after it starts after the
// whitespace that follows (see skipSpace), as in Punkt's slicing.
func (s *punkt) next() int {
	b := s.b
	for s.off < len(b) {
		p := bytes.IndexAny(b[s.off:], ".?!")
		if p < 0 {
			s.off = len(b)
			break
		}
		p += s.off
		s.off = p + 1
		next, ok := candidate(b, p)
		if !ok {
			continue
		}
		stop := max(s.last, 0)
		start := s.wordStart
		if i := bytes.LastIndexAny(b[stop:p], pyASCIISpace); i > 0 {
			start = stop + i + 1
		}
		// The word the decision looks at ends the token before the mark,
		// at the previous candidate at the latest (Punkt's tokens break
		// at the punctuation after a mark), which also keeps this linear.
		ws := p
		for ws > s.last+1 {
			r, sz := runeBefore(b, ws)
			if isSpace(r) {
				break
			}
			ws -= sz
		}
		prev, prevNext, prevBrk := s.last, s.lastNext, s.brk
		yield := prev >= 0 && prev <= start
		if yield {
			s.brk = false
		}
		s.brk = s.brk || endsSentence(b[ws:p+1])
		s.last, s.lastNext, s.wordStart = p, next, start
		if yield && prevBrk {
			return realign(b, prev+1, prevNext)
		}
	}
	if last := s.last; last >= 0 {
		s.last = -1
		if s.brk {
			return realign(b, last+1, s.lastNext)
		}
	}
	return len(b)
}

// pyASCIISpace is Python's string.whitespace, which Punkt uses to find the
// word before a candidate (and so to group candidates).
const pyASCIISpace = " \t\n\r\v\f"

// candidate reports whether the mark at b[p] is a Punkt candidate: followed
// by one of Punkt's non-word characters, or by whitespace and a token. It
// returns where the next sentence would start.
func candidate(b []byte, p int) (next int, ok bool) {
	q := p + 1
	if q >= len(b) {
		return 0, false
	}
	switch b[q] {
	case ')', '"', ';', '}', ']', '*', ':', '@', '\'', '(', '{', '[', '?', '!':
		return q, true
	}
	if sp, _ := spaceAt(b, q); !sp {
		return 0, false
	}
	next = q + skipSpace(b[q:])
	return next, next < len(b)
}

// realign returns the end of a sentence that Punkt ends at end, when the
// next one starts at next: closing quotes and brackets at next that are
// followed by whitespace, "--" or the end of the text move to it.
func realign(b []byte, end, next int) int {
	k := next
	for k < len(b) {
		switch b[k] {
		case '"', '\'', ')', ']', '}':
			k++
			continue
		}
		break
	}
	if k == next {
		return end
	}
	if k == len(b) || bytes.HasPrefix(b[k:], []byte("--")) {
		return k
	}
	if sp, _ := spaceAt(b, k); sp {
		return k
	}
	return end
}

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

// punktLastToken returns the start of the last token of Punkt's word
// tokenizer (PunktLanguageVars._word_tokenize_fmt) in w, a word without
// whitespace, where a period follows w: the decision is about that token.
// Punkt splits off ( ) " ; } ] * : @ { [ as tokens of their own, starts a
// token at ' ? !, splits at "--" and "..", and splits off ` & # - , at
// the start of a token; so "(a." is about "a." and "'s." or "“a." about
// themselves.
func punktLastToken(w []byte) []byte {
	k := 0
	for i := 0; i < len(w); i++ {
		switch c := w[i]; c {
		case ')', '"', ';', '}', ']', '*', ':', '@', '(', '{', '[':
			k = i + 1
		case '\'', '?', '!':
			k = i
		case '-', '.':
			if i+1 < len(w) && w[i+1] == c {
				for i+1 < len(w) && w[i+1] == c {
					i++
				}
				k = i + 1
			}
		}
	}
	for k < len(w) && strings.IndexByte("`&#-,", w[k]) >= 0 {
		k++
	}
	return w[k:]
}

// endsSentence decides whether the word w (no whitespace), which ends with
// a ".", "?" or "!", ends a sentence.
func endsSentence(w []byte) bool {
	e := len(w)
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
	stem := punktLastToken(w[:e-1])
	if len(stem) == 0 {
		return true
	}
	if abbreviations[string(stem)] {
		return false
	}
	if i := bytes.LastIndexByte(stem, '-'); i >= 0 && abbreviations[string(stem[i+1:])] {
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
