package kg

import (
	"strings"
	"testing"
)

// TestParseSynsetHugePointerCount: a damaged pointer count so large that
// 4 x count overflows used to pass the line-length check and panic with
// an index out of range; it is a malformed line.
func TestParseSynsetHugePointerCount(t *testing.T) {
	for _, cnt := range []string{"4611686018427387904", "-1", "9223372036854775807", "3"} {
		line := "00001740 03 n 01 entity 0 " + cnt + " ~ 00001930 n 0000 | that which is perceived\n"
		if _, _, err := parseSynset(line); err == nil {
			t.Errorf("pointer count %s: parsed", cnt)
		}
	}
}

// FuzzParseSynset: parseSynset never panics; a parsed line has its word
// count of words (none empty) and pointers with a part of speech among
// n, v, a, r.
func FuzzParseSynset(f *testing.F) {
	f.Add("00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 ~ 00002137 n 0000 ~ 04431553 n 0000 | that which is perceived\n")
	f.Add("00001740 00 a 02 able 0 unable(a) 0 001 ! 00002098 a 0101 | having the necessary means\n")
	f.Add("01234567 29 v 01 breathe 0 002 @ 00001740 v 0000 + 00001234 n 0101 01 + 02 00 | draw air\n")
	f.Fuzz(func(t *testing.T, line string) {
		off, ss, err := parseSynset(line)
		if err != nil {
			return
		}
		if len(off) != 8 || len(ss.words) == 0 {
			t.Fatalf("offset %q, %d words", off, len(ss.words))
		}
		for _, w := range ss.words {
			if w == "" || strings.ContainsAny(w, " \t\n") {
				t.Fatalf("word %q", w)
			}
		}
		for _, p := range ss.ptrs {
			if !strings.ContainsRune("nvar", rune(p.pos)) || p.src < 0 || p.dst < 0 {
				t.Fatalf("pointer %+v", p)
			}
		}
	})
}
