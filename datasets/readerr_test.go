package datasets

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadersNameFileOnReadError reads from a source that fails after its
// first line (a damaged disk or zip entry): the error names the file, as
// every other error of the readers does, and wraps the cause.
func TestReadersNameFileOnReadError(t *testing.T) {
	t.Parallel()
	cause := errors.New("input/output error")
	src := func(first string) io.Reader {
		return io.MultiReader(strings.NewReader(first), iotest.ErrReader(cause))
	}
	for name, read := range map[string]func() error{
		"ReadLines": func() error {
			return ReadLines(src("a\n"), "list.txt", func(int, string) error { return nil })
		},
		"ReadImageList": func() error { _, err := ReadImageList(src("a.jpg\n"), "list.txt"); return err },
		"ReadFlickr8kTokens": func() error {
			return ReadFlickr8kTokens(src("a.jpg#0\ta dog\n"), "list.txt", func(int, string, int, string) error { return nil })
		},
		"TSVReader": func() error {
			var b strings.Builder
			EncodeBUTD(&b, BUTDRecord{ImageID: 1, NumBoxes: 1, Boxes: []float32{0, 0, 1, 1}, Features: []float32{1}})
			r := NewTSVReader(src(b.String()), "list.txt", 1, 0)
			if _, err := r.Next(); err != nil {
				return err
			}
			_, err := r.Next()
			return err
		},
	} {
		err := read()
		if !errors.Is(err, cause) || !strings.Contains(err.Error(), "list.txt") {
			t.Errorf("%s: error %v; want one naming list.txt and wrapping %v", name, err, cause)
		}
	}
}
