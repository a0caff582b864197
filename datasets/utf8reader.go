package datasets

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// utf8Reader passes r through, failing with a [*FormatError] that names
// the byte offset at the first byte that is not valid UTF-8. JSON must be
// UTF-8, but encoding/json silently replaces invalid bytes with U+FFFD:
// a caption file in Latin-1 would become captions with replacement
// characters and no word said. The text readers fail on such a line
// ([CheckUTF8]); the JSON readers do the same through this reader.
type utf8Reader struct {
	r    io.Reader
	file string
	off  int64   // offset of tail[0] (or of the next byte when tail is empty)
	tail [3]byte // the start of a rune cut by the end of the last read
	nt   int
	buf  []byte
	rerr error // the first error of r other than io.EOF
	ferr error // the invalid UTF-8 found, returned by every Read after
}

func newUTF8Reader(r io.Reader, file string) *utf8Reader {
	return &utf8Reader{r: r, file: file}
}

func (u *utf8Reader) Read(b []byte) (int, error) {
	if u.ferr != nil {
		// Sticky: the bytes of the failed read were not passed on, and a
		// caller that goes on reading (json.Decoder.More treats an error
		// as the end of an array, and the next Token reads again) must
		// not get the bytes after them, as if those were next.
		return 0, u.ferr
	}
	n, err := u.r.Read(b)
	if n == 0 && err == nil {
		return 0, nil
	}
	// The bytes to check: what was cut last time, then this read.
	s := b[:n]
	if u.nt > 0 {
		u.buf = append(append(u.buf[:0], u.tail[:u.nt]...), s...)
		s = u.buf
	}
	// Hold back an incomplete rune at the end, unless the input ends. A
	// read error is not the end: the bytes after the cut were not read,
	// and the error, not a cut character, is what to report.
	end := len(s)
	if err != io.EOF {
		for i := len(s) - 1; i >= 0 && i >= len(s)-utf8.UTFMax+1; i-- {
			if c := s[i]; c >= 0xC0 { // a rune start
				if !utf8.FullRune(s[i:]) {
					end = i
				}
				break
			} else if c < 0x80 {
				break
			}
		}
	}
	if i := invalidUTF8(s[:end]); i >= 0 {
		u.ferr = &FormatError{File: u.file, Offset: u.off + int64(i),
			Msg: fmt.Sprintf("invalid UTF-8 byte 0x%02x (JSON must be UTF-8: convert the file)", s[i])}
		return 0, u.ferr
	}
	u.off += int64(end)
	u.nt = copy(u.tail[:], s[end:])
	if err != nil && err != io.EOF && u.rerr == nil {
		u.rerr = err
	}
	return n, err
}

// readErr returns the error of the underlying reader (not io.EOF), named
// by file and offset, or nil if reading has not failed. The JSON decoder
// reports such an error as its own (or as the end of an array, from More),
// and the readers would otherwise call the file malformed.
func (u *utf8Reader) readErr() error {
	if u.rerr == nil {
		return nil
	}
	return fmt.Errorf("%s: reading after byte %d: %w", u.file, u.off, u.rerr)
}

// invalidUTF8 returns the index of the first byte of s that is not part of
// valid UTF-8, or -1.
func invalidUTF8(s []byte) int {
	if utf8.Valid(s) {
		return -1
	}
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && w == 1 {
			return i
		}
		i += w
	}
	return -1
}
