package tokenize

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// This file reimplements, without regular expressions, the rewrite cascade
// of NLTK 3.8's NLTKWordTokenizer (nltk/tokenize/destructive.py), the word
// tokenizer behind nltk.word_tokenize. Each pass below mirrors one
// re.sub of the cascade, in the same order, with Python's Unicode semantics
// for \w, \d, \s and \b, and the same left-to-right, non-overlapping match
// scanning. Passes whose trigger characters are absent are skipped.

// Trigger bits: which characters a piece of text contains.
const (
	hasPeriod uint32 = 1 << iota
	hasColonComma
	hasSymbol // ; @ # $ % &
	hasQM     // ? !
	hasApos
	hasDQuote
	hasBacktick
	hasStar
	hasBracket // [ ] ( ) { } < >
	hasDash
	hasNonASCII
)

var triggerTable = func() (t [256]uint32) {
	t['.'] = hasPeriod
	t[':'], t[','] = hasColonComma, hasColonComma
	for _, c := range ";@#$%&" {
		t[c] = hasSymbol
	}
	t['?'], t['!'] = hasQM, hasQM
	t['\''] = hasApos
	t['"'] = hasDQuote
	t['`'] = hasBacktick
	t['*'] = hasStar
	for _, c := range "[](){}<>" {
		t[c] = hasBracket
	}
	t['-'] = hasDash
	for c := 0x80; c < 0x100; c++ {
		t[c] = hasNonASCII
	}
	return t
}()

var dotDot = []byte("..")

// asciiWord marks the ASCII bytes matched by \w.
var asciiWord = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	t['_'] = true
	return t
}()

// isWord reports whether r matches Python's Unicode \w (str.isalnum or '_').
func isWord(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiWord[r]
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

// asciiSpace marks the ASCII bytes matched by \s.
var asciiSpace = func() (t [128]bool) {
	for _, c := range " \t\n\v\f\r\x1c\x1d\x1e\x1f" {
		t[c] = true
	}
	return t
}()

// isSpace reports whether r matches Python's Unicode \s (str.isspace).
func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiSpace[r]
	}
	return unicode.IsSpace(r)
}

// spaceAt reports whether a \s rune starts at b[i] and returns its size.
func spaceAt(b []byte, i int) (bool, int) {
	if c := b[i]; c < utf8.RuneSelf {
		return asciiSpace[c], 1
	}
	r, sz := utf8.DecodeRune(b[i:])
	return unicode.IsSpace(r), sz
}

// isDecimal reports whether r matches Python's Unicode \d (category Nd).
func isDecimal(r rune) bool {
	if r < utf8.RuneSelf {
		return '0' <= r && r <= '9'
	}
	return unicode.IsDigit(r)
}

// runeAt decodes the rune starting at b[i]; i must be < len(b).
func runeAt(b []byte, i int) (rune, int) {
	if c := b[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRune(b[i:])
}

// runeBefore decodes the rune ending at b[i-1]; i must be > 0.
func runeBefore(b []byte, i int) (rune, int) {
	if c := b[i-1]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeLastRune(b[:i])
}

// wordAt reports whether a \w rune starts at b[i] (false at the end).
func wordAt(b []byte, i int) bool {
	if i >= len(b) {
		return false
	}
	r, _ := runeAt(b, i)
	return isWord(r)
}

// wordBefore reports whether a \w rune ends at b[i-1] (false at the start).
func wordBefore(b []byte, i int) bool {
	if i <= 0 {
		return false
	}
	r, _ := runeBefore(b, i)
	return isWord(r)
}

// foldIs reports whether r equals the lower-case ASCII letter c under
// Python's re.IGNORECASE with Unicode (which also folds ı and İ to i, ſ to
// s and the Kelvin sign to k).
func foldIs(r rune, c byte) bool {
	if r < utf8.RuneSelf {
		return byte(r)|0x20 == c && r|0x20 >= 'a' && r|0x20 <= 'z'
	}
	switch c {
	case 'i':
		return r == 'ı' || r == 'İ'
	case 's':
		return r == 'ſ'
	case 'k':
		return r == 'K'
	}
	return false
}

// matchFold matches the ASCII pattern lit (lower case, possibly with
// apostrophes) case-insensitively at b[i:] and returns the end index, or -1.
func matchFold(b []byte, i int, lit string) int {
	for k := 0; k < len(lit); k++ {
		if i >= len(b) {
			return -1
		}
		r, sz := runeAt(b, i)
		c := lit[k]
		if c == '\'' {
			if r != '\'' {
				return -1
			}
		} else if !foldIs(r, c) {
			return -1
		}
		i += sz
	}
	return i
}

func triggers(b []byte) uint32 {
	var m uint32
	for _, c := range b {
		m |= triggerTable[c]
	}
	return m
}

// treebank runs the NLTKWordTokenizer cascade over one sentence in w.x and
// leaves the rewritten text (tokens separated by whitespace) in w.x.
func (w *work) treebank() {
	m := triggers(w.x)
	// STARTING_QUOTES
	if m&(hasBacktick|hasNonASCII) != 0 {
		w.run(padStartQuotes)
	}
	if len(w.x) > 0 && w.x[0] == '"' {
		w.run(func(dst, src []byte) []byte { return append(append(dst, "``"...), src[1:]...) })
		m |= hasBacktick
	}
	if m&hasBacktick != 0 {
		w.run(padDoubleBacktick)
	}
	if m&(hasDQuote|hasApos) != 0 {
		w.run(openingQuotes)
		m |= hasBacktick
	}
	if m&hasApos != 0 {
		w.run(apostropheLetter)
	}
	// PUNCTUATION
	if m&hasPeriod != 0 {
		w.run(func(dst, src []byte) []byte { return finalPeriod(dst, src, true) })
	}
	if m&hasColonComma != 0 {
		w.run(colonComma)
		w.run(colonCommaEnd)
	}
	if m&hasPeriod != 0 && bytes.Contains(w.x, dotDot) {
		w.run(ellipsis)
	}
	if m&hasSymbol != 0 {
		w.run(func(dst, src []byte) []byte { return padBytes(dst, src, ";@#$%&") })
	}
	if m&hasPeriod != 0 {
		w.run(func(dst, src []byte) []byte { return finalPeriod(dst, src, false) })
	}
	if m&hasQM != 0 {
		w.run(func(dst, src []byte) []byte { return padBytes(dst, src, "?!") })
	}
	if m&hasApos != 0 {
		w.run(apostropheSpace)
	}
	if m&hasStar != 0 {
		w.run(func(dst, src []byte) []byte { return padBytes(dst, src, "*") })
	}
	// PARENS_BRACKETS, DOUBLE_DASHES
	if m&hasBracket != 0 {
		w.run(func(dst, src []byte) []byte { return padBytes(dst, src, "[](){}<>") })
	}
	if m&hasDash != 0 {
		w.run(doubleDash)
	}
	// " " + text + " "
	w.run(func(dst, src []byte) []byte {
		dst = append(dst, ' ')
		dst = append(dst, src...)
		return append(dst, ' ')
	})
	// ENDING_QUOTES
	if m&hasNonASCII != 0 {
		w.run(padEndQuotes)
	}
	if m&(hasApos|hasDQuote) != 0 {
		w.run(doubleApostrophe)
	}
	if m&hasDQuote != 0 {
		w.run(doubleQuote)
	}
	if m&(hasApos|hasDQuote) != 0 {
		w.run(cliticSMD)
	}
	if m&hasApos != 0 {
		w.run(cliticLong)
	}
	// CONTRACTIONS2 and CONTRACTIONS3
	w.run(contractions)
}

// run applies one pass from w.x into w.y and swaps them.
func (w *work) run(pass func(dst, src []byte) []byte) {
	w.y = pass(w.y[:0], w.x)
	w.x, w.y = w.y, w.x
}

func padQuoteRune(r rune) bool { return r == '«' || r == '“' || r == '‘' || r == '„' }
func endQuoteRune(r rune) bool { return r == '»' || r == '”' || r == '’' }

// padRuneIf appends the rune that starts at src[i], padded by a space on
// each side when pad reports true for it, and returns dst and the index of
// the next rune.
func padRuneIf(dst, src []byte, i int, pad func(rune) bool) ([]byte, int) {
	r, sz := utf8.DecodeRune(src[i:])
	if !pad(r) {
		return append(dst, src[i:i+sz]...), i + sz
	}
	dst = append(dst, ' ')
	dst = append(dst, src[i:i+sz]...)
	return append(dst, ' '), i + sz
}

// padStartQuotes: ([«“‘„]|[`]+) -> " \1 "
func padStartQuotes(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '`':
			j := i
			for j < len(src) && src[j] == '`' {
				j++
			}
			dst = append(dst, ' ')
			dst = append(dst, src[i:j]...)
			dst = append(dst, ' ')
			i = j
		case c >= utf8.RuneSelf:
			dst, i = padRuneIf(dst, src, i, padQuoteRune)
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}

// padDoubleBacktick pads each pair of backticks with spaces.
func padDoubleBacktick(dst, src []byte) []byte { return padPair(dst, src, '`', " `` ") }

// padPair replaces every two-byte run of c with repl (c c padded by spaces).
func padPair(dst, src []byte, c byte, repl string) []byte {
	for i := 0; i < len(src); {
		if src[i] == c && i+1 < len(src) && src[i+1] == c {
			dst = append(dst, repl...)
			i += 2
			continue
		}
		dst = append(dst, src[i])
		i++
	}
	return dst
}

// openingQuotes turns a double quote, or two apostrophes, after one of
// " ([{<" into two backticks (regexp ([ \(\[{<])(\"|\'{2})).
func openingQuotes(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		if c == ' ' || c == '(' || c == '[' || c == '{' || c == '<' {
			if i+1 < len(src) && src[i+1] == '"' {
				dst = append(dst, c)
				dst = append(dst, " `` "...)
				i += 2
				continue
			}
			if i+2 < len(src) && src[i+1] == '\'' && src[i+2] == '\'' {
				dst = append(dst, c)
				dst = append(dst, " `` "...)
				i += 3
				continue
			}
		}
		dst = append(dst, c)
		i++
	}
	return dst
}

// apostropheLetter: (?i)(\')(?!re|ve|ll|m|t|s|d|n)(\w)\b -> "\1 \2"
func apostropheLetter(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		if src[i] == '\'' && i+1 < len(src) {
			r, sz := runeAt(src, i+1)
			if isWord(r) && !wordAt(src, i+1+sz) &&
				!foldIs(r, 'm') && !foldIs(r, 't') && !foldIs(r, 's') && !foldIs(r, 'd') && !foldIs(r, 'n') {
				dst = append(dst, '\'', ' ')
				dst = append(dst, src[i+1:i+1+sz]...)
				i += 1 + sz
				continue
			}
		}
		dst = append(dst, src[i])
		i++
	}
	return dst
}

// finalPeriod implements the two "final period" rules:
//
//	wide:   ([^\.])(\.)([\]\)}>"\'»”’ ]*)\s*$ -> "\1 \2 \3 "
//	narrow: ([^\.])(\.)([\]\)}>"\']*)\s*$     -> "\1 \2\3 "
//
// The suffix after the period must be closers followed by whitespace up
// to the end; the earliest such period wins (re.sub scans left to right).
func finalPeriod(dst, src []byte, wide bool) []byte {
	closer := func(r rune) bool {
		switch r {
		case ']', ')', '}', '>', '"', '\'':
			return true
		case ' ', '»', '”', '’':
			return wide
		}
		return false
	}
	// Scan from the right: whitespace first, then closers only. m is the
	// smallest index whose suffix matches closers* whitespace*.
	m := len(src)
	inWS := true
	for m > 0 {
		r, sz := runeBefore(src, m)
		if inWS && isSpace(r) {
			m -= sz
			continue
		}
		if closer(r) {
			inWS = false
			m -= sz
			continue
		}
		break
	}
	if m < 2 || src[m-1] != '.' || src[m-2] == '.' {
		return append(dst, src...)
	}
	k := m
	for k < len(src) {
		r, sz := runeAt(src, k)
		if !closer(r) {
			break
		}
		k += sz
	}
	dst = append(dst, src[:m-1]...)
	if wide {
		dst = append(dst, " . "...)
	} else {
		dst = append(dst, " ."...)
	}
	dst = append(dst, src[m:k]...)
	return append(dst, ' ')
}

// colonComma: ([:,])([^\d]) -> " \1 \2"
func colonComma(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		if (c == ':' || c == ',') && i+1 < len(src) {
			r, sz := runeAt(src, i+1)
			if !isDecimal(r) {
				dst = append(dst, ' ', c, ' ')
				dst = append(dst, src[i+1:i+1+sz]...)
				i += 1 + sz
				continue
			}
		}
		dst = append(dst, c)
		i++
	}
	return dst
}

// colonCommaEnd: ([:,])$ -> " \1 " ($ also matches before a final newline).
func colonCommaEnd(dst, src []byte) []byte {
	n := len(src)
	isCC := func(c byte) bool { return c == ':' || c == ',' }
	switch {
	case n >= 1 && isCC(src[n-1]):
		dst = append(dst, src[:n-1]...)
		return append(dst, ' ', src[n-1], ' ')
	case n >= 2 && src[n-1] == '\n' && isCC(src[n-2]):
		dst = append(dst, src[:n-2]...)
		return append(dst, ' ', src[n-2], ' ', '\n')
	}
	return append(dst, src...)
}

// ellipsis: \.{2,} -> " \g<0> "
func ellipsis(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		if src[i] == '.' && i+1 < len(src) && src[i+1] == '.' {
			j := i + 2
			for j < len(src) && src[j] == '.' {
				j++
			}
			dst = append(dst, ' ')
			dst = append(dst, src[i:j]...)
			dst = append(dst, ' ')
			i = j
			continue
		}
		dst = append(dst, src[i])
		i++
	}
	return dst
}

// padBytes surrounds every byte of set (ASCII) with spaces.
func padBytes(dst, src []byte, set string) []byte {
	for _, c := range src {
		if c < utf8.RuneSelf && containsByte(set, c) {
			dst = append(dst, ' ', c, ' ')
		} else {
			dst = append(dst, c)
		}
	}
	return dst
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// apostropheSpace: ([^'])' -> "\1 ' "
func apostropheSpace(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		r, sz := runeAt(src, i)
		j := i + sz
		if r != '\'' && j+1 < len(src) && src[j] == '\'' && src[j+1] == ' ' {
			dst = append(dst, src[i:j]...)
			dst = append(dst, " ' "...)
			i = j + 2
			continue
		}
		dst = append(dst, src[i:j]...)
		i = j
	}
	return dst
}

// doubleDash: -- -> " -- "
func doubleDash(dst, src []byte) []byte { return padPair(dst, src, '-', " -- ") }

// padEndQuotes: ([»”’]) -> " \1 "
func padEndQuotes(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		if src[i] < utf8.RuneSelf {
			dst = append(dst, src[i])
			i++
			continue
		}
		dst, i = padRuneIf(dst, src, i, endQuoteRune)
	}
	return dst
}

// doubleApostrophe pads each pair of apostrophes with spaces.
func doubleApostrophe(dst, src []byte) []byte { return padPair(dst, src, '\'', " '' ") }

// doubleQuote turns each double quote into two padded apostrophes.
func doubleQuote(dst, src []byte) []byte {
	for _, c := range src {
		if c == '"' {
			dst = append(dst, " '' "...)
		} else {
			dst = append(dst, c)
		}
	}
	return dst
}

// cliticSMD: ([^' ])('[sS]|'[mM]|'[dD]|') -> "\1 \2 "
func cliticSMD(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		r, sz := runeAt(src, i)
		j := i + sz
		if r != '\'' && r != ' ' && j < len(src) && src[j] == '\'' {
			k := j + 1
			if k < len(src) && containsByte("sSmMdD", src[k]) {
				if k+1 < len(src) && src[k+1] == ' ' {
					dst = append(dst, src[i:j]...)
					dst = append(dst, ' ', '\'', src[k], ' ')
					i = k + 2
					continue
				}
			} else if k < len(src) && src[k] == ' ' {
				dst = append(dst, src[i:j]...)
				dst = append(dst, " ' "...)
				i = k + 1
				continue
			}
		}
		dst = append(dst, src[i:j]...)
		i = j
	}
	return dst
}

// cliticLong: ([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) -> "\1 \2 "
func cliticLong(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		r, sz := runeAt(src, i)
		j := i + sz
		if r != '\'' && r != ' ' && j+3 < len(src) && src[j+3] == ' ' {
			switch string(src[j : j+3]) {
			case "'ll", "'LL", "'re", "'RE", "'ve", "'VE", "n't", "N'T":
				dst = append(dst, src[i:j]...)
				dst = append(dst, ' ')
				dst = append(dst, src[j:j+3]...)
				dst = append(dst, ' ')
				i = j + 4
				continue
			}
		}
		dst = append(dst, src[i:j]...)
		i = j
	}
	return dst
}

// contraction is one MacIntyre contraction: \b(first)(second)\b, split into
// " first second ".
type contraction struct {
	first, second string
	spaceAfter    bool // (?=\s) instead of \b after second
}

// The CONTRACTIONS2 list of NLTK, by first letter. The matches are whole
// words, so applying them in one pass equals applying them one by one.
var contractions2 = [...]contraction{
	{"can", "not", false}, {"d", "'ye", false}, {"gim", "me", false}, {"gon", "na", false},
	{"got", "ta", false}, {"lem", "me", false}, {"more", "'n", false}, {"wan", "na", true},
}

// contractions applies CONTRACTIONS2 and CONTRACTIONS3 ((?i) ('t)(is)\b and
// (?i) ('t)(was)\b -> " \1 \2 "). It looks only at candidate bytes and
// copies the text between matches in bulk.
func contractions(dst, src []byte) []byte {
	last := 0 // src[last:] is not copied yet
	for i := 0; i < len(src); i++ {
		if !contractionStart[src[i]] {
			continue
		}
		// A match replaces src[i:f] by " " + src[g:e] + " " + src[e:f] + " ".
		var g, e, f int
		switch c := src[i]; c {
		case ' ':
			if i+2 >= len(src) || src[i+1] != '\'' {
				continue
			}
			if e = matchFold(src, i+1, "'t"); e < 0 {
				continue
			}
			f = -1
			for _, second := range [...]string{"is", "was"} {
				if g := matchFold(src, e, second); g > 0 && !wordAt(src, g) {
					f = g
					break
				}
			}
			if f < 0 {
				continue
			}
			g = i + 1 // the space itself is dropped
		case 'c', 'd', 'g', 'l', 'm', 'w', 'C', 'D', 'G', 'L', 'M', 'W':
			if wordBefore(src, i) {
				continue
			}
			e, f = matchContraction(src, i, c|0x20)
			if f < 0 {
				continue
			}
			g = i
		default:
			continue
		}
		dst = append(dst, src[last:i]...)
		dst = append(dst, ' ')
		dst = append(dst, src[g:e]...)
		dst = append(dst, ' ')
		dst = append(dst, src[e:f]...)
		dst = append(dst, ' ')
		last = f
		i = f - 1
	}
	return append(dst, src[last:]...)
}

// contractionStart marks the bytes a contraction match can start with.
var contractionStart = func() (t [256]bool) {
	for _, c := range " cdglmwCDGLMW" {
		t[c] = true
	}
	return t
}()

// matchContraction matches one of contractions2 starting with the
// lower-case letter l at src[i] (a word start) and returns the end of its
// two parts, or f = -1.
func matchContraction(src []byte, i int, l byte) (e, f int) {
	if i+1 >= len(src) {
		return 0, -1
	}
	if c2 := src[i+1]; c2 < utf8.RuneSelf {
		switch c2 | 0x20 {
		case 'a', 'i', 'o', 'e', '\'':
		default:
			return 0, -1 // no contraction has this second letter
		}
	}
	for _, k := range contractions2 {
		if k.first[0] != l {
			continue
		}
		e := matchFold(src, i, k.first)
		if e < 0 {
			continue
		}
		f := matchFold(src, e, k.second)
		if f < 0 {
			continue
		}
		if k.spaceAfter {
			if f >= len(src) {
				continue
			}
			if sp, _ := spaceAt(src, f); !sp {
				continue
			}
		} else if wordAt(src, f) {
			continue
		}
		return e, f
	}
	return 0, -1
}
