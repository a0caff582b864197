package datasets

import (
	"fmt"
	"unicode/utf8"
)

// FormatError reports malformed input at a line (text) or byte offset
// (binary) of a file.
type FormatError struct {
	File   string
	Line   int   // 1-based line, or 0
	Offset int64 // byte offset when Line is 0
	Msg    string
}

func (e *FormatError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: at byte %d: %s", e.File, e.Offset, e.Msg)
}

func lineErr(file string, line int, format string, args ...any) error {
	return &FormatError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// CheckUTF8 returns a [*FormatError] naming file, line and column if the
// text line s is not valid UTF-8. Text ends up in Parquet string columns,
// which must hold UTF-8: other readers (DuckDB, Arrow) reject a file with
// an invalid string, so a reader reports the line instead of writing it.
func CheckUTF8(file string, line int, s string) error {
	if utf8.ValidString(s) {
		return nil
	}
	col := 0
	for col < len(s) {
		r, n := utf8.DecodeRuneInString(s[col:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		col += n
	}
	return lineErr(file, line, "invalid UTF-8 byte 0x%02x at column %d (convert the file to UTF-8)", s[col], col+1)
}
