package datasets

import "fmt"

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
