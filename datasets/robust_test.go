package datasets

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// Regression tests for bugs found by the fuzz targets in fuzz_test.go and
// by review; each failed before its fix.

// TestCOCOCaptionsTrailingData: a captions file followed by anything (two
// files concatenated, a damaged tail) is not a captions file; only the
// first object was read and the rest silently ignored.
func TestCOCOCaptionsTrailingData(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`{"images": [], "annotations": []} {"images": [{"id": 1}], "annotations": []}`, "data after the top-level object"},
		{`{"images": [], "annotations": []}]`, "after the top-level object"},
		{`{"images": [], "annotations": []}` + "\n\xff", "invalid UTF-8"},
	} {
		_, err := ReadCOCOCaptions(strings.NewReader(tc.in), "c.json")
		var fe *FormatError
		if !errors.As(err, &fe) || fe.File != "c.json" || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want a c.json error %q", tc.in, err, tc.want)
		}
	}
	if _, err := ReadCOCOCaptions(strings.NewReader(`{"images": [], "annotations": []}`+" \n\t"), "c.json"); err != nil {
		t.Errorf("trailing white space: %v", err)
	}
}

// TestKarpathyDuplicateImagesKey: a second "images" array made ReadKarpathy
// return the images of both, where json.Unmarshal (and Python's json.load,
// which the Karpathy split tools use) keep only the last: the data set
// would depend on the reader. It is an error naming the offset.
func TestKarpathyDuplicateImagesKey(t *testing.T) {
	t.Parallel()
	in := `{"images": [{"filename": "a.jpg", "split": "train", "sentences": []}], "images": []}`
	n := 0
	err := ReadKarpathy(strings.NewReader(in), "k.json", func(KarpathyImage) error { n++; return nil })
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), `second "images"`) || fe.Offset == 0 {
		t.Fatalf("err = %v (after %d images), want a k.json error about a second \"images\" key", err, n)
	}
}

// TestUTF8ReaderReadErrorMidRune: a read error right after a chunk that
// ends inside a multi-byte character (common with accented captions) was
// reported as "invalid UTF-8 byte ... convert the file" at the cut, hiding
// the read error and blaming a good file.
func TestUTF8ReaderReadErrorMidRune(t *testing.T) {
	t.Parallel()
	cause := errors.New("input/output error")
	src := io.MultiReader(strings.NewReader("caf\xc3"), iotest.ErrReader(cause))
	_, err := io.ReadAll(newUTF8Reader(src, "f.json"))
	if !errors.Is(err, cause) {
		t.Fatalf("err = %v, want %v", err, cause)
	}
}

// TestJSONReadersWrapReadError: a read error while decoding JSON was
// reported as a *FormatError ("images[3]: input/output error"), as if the
// file were malformed, and did not wrap the cause. Now it names the file
// and wraps the cause, as the line readers' errors do.
func TestJSONReadersWrapReadError(t *testing.T) {
	t.Parallel()
	cause := errors.New("input/output error")
	karpathy := `{"images": [{"filename": "a.jpg", "split": "train", "sentences": [{"raw": "Caf` + "\xc3\xa9" + `"}]}, {"filename": "b.jpg"`
	coco := `{"images": [{"id": 1, "file_name": "caf` + "\xc3\xa9" + `"}], "annotations": [`
	for name, read := range map[string]func(io.Reader) error{
		"ReadKarpathy": func(r io.Reader) error {
			return ReadKarpathy(r, "data.json", func(KarpathyImage) error { return nil })
		},
		"ReadCOCOCaptions": func(r io.Reader) error { _, err := ReadCOCOCaptions(r, "data.json"); return err },
	} {
		doc := karpathy
		if name == "ReadCOCOCaptions" {
			doc = coco
		}
		// Cut everywhere, mid-character included.
		for cut := 1; cut <= len(doc); cut++ {
			src := io.MultiReader(iotest.HalfReader(bytes.NewReader([]byte(doc[:cut]))), iotest.ErrReader(cause))
			err := read(src)
			var fe *FormatError
			if !errors.Is(err, cause) || !strings.Contains(err.Error(), "data.json") || errors.As(err, &fe) {
				t.Errorf("%s, cut at %d: err = %v; want one naming data.json, wrapping %v, not a *FormatError", name, cut, err, cause)
				break
			}
		}
	}
}

// chunks returns its chunks one per Read.
type chunks []string

func (c *chunks) Read(b []byte) (int, error) {
	if len(*c) == 0 {
		return 0, io.EOF
	}
	n := copy(b, (*c)[0])
	if n < len((*c)[0]) {
		(*c)[0] = (*c)[0][n:]
	} else {
		*c = (*c)[1:]
	}
	return n, nil
}

// TestKarpathyInvalidUTF8ChunkNotDropped (found by FuzzReadKarpathy): the
// UTF-8 check failed a read that held an invalid byte, but the JSON
// decoder's More takes an error for the end of the array, and the next
// Token read on: the failed read's bytes were lost, and a file whose
// invalid bytes filled one read (as the decoder's buffer happens to cut
// it) was read without them and without an error, an image short. Also
// the error, when there was one, was at the wrong offset. The reader now
// fails every read after the first invalid byte.
func TestKarpathyInvalidUTF8ChunkNotDropped(t *testing.T) {
	t.Parallel()
	first := `{"images": [{"filename": "a.jpg", "split": "train", "sentences": []}`
	bad := `, {"filename": "caf` + "\xe9" + `.jpg", "split": "train", "sentences": []}`
	for _, src := range []*chunks{
		{first, bad, "]}"},
		{first, bad, `, {"filename": "c.jpg", "split": "test", "sentences": []}]}`},
	} {
		var got []string
		err := ReadKarpathy(src, "k.json", func(im KarpathyImage) error { got = append(got, im.Filename); return nil })
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Offset != int64(len(first)+strings.Index(bad, "\xe9")) {
			t.Errorf("images %q, err %v; want the invalid byte at offset %d", got, err, len(first)+strings.Index(bad, "\xe9"))
		}
	}
}

// TestReadersRefuseCarriageReturnInLine (found by FuzzReadImageList): a
// file with old Mac line ends (CR only) read as one line: two image names
// became one name "a.jpg\rb.jpg" (no such image: the stage would skip
// them all), two Flickr8k captions one caption holding the second line.
// A carriage return, or another control character, inside a line is an
// error naming the line and column.
func TestReadersRefuseCarriageReturnInLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
		read           func(io.Reader) error
	}{
		{"ReadImageList", "a.jpg\rb.jpg\r", "ids.txt:1: carriage return at column 6", func(r io.Reader) error {
			_, err := ReadImageList(r, "ids.txt")
			return err
		}},
		{"ReadLines", "ok\nfirst caption\rsecond caption\r\n", "ids.txt:2: carriage return at column 14", func(r io.Reader) error {
			return ReadLines(r, "ids.txt", func(int, string) error { return nil })
		}},
		{"ReadImageList vertical tab", "a.jpg\vb.jpg\n", "ids.txt:1: want one image name per line", func(r io.Reader) error {
			_, err := ReadImageList(r, "ids.txt")
			return err
		}},
		{"ReadFlickr8kTokens", "a.jpg#0\tA dog .\ra.jpg#1\tA cat .\r", "ids.txt:1: control character U+000D at column 16", func(r io.Reader) error {
			return ReadFlickr8kTokens(r, "ids.txt", func(int, string, int, string) error { return nil })
		}},
		{"ReadFlickr8kTokens second tab", "a.jpg#0\t  A dog\tbarks .\n", "ids.txt:1: control character U+0009 at column 16", func(r io.Reader) error {
			return ReadFlickr8kTokens(r, "ids.txt", func(int, string, int, string) error { return nil })
		}},
		{"ReadFlickr8kTokens name", " a\x01.jpg#0\tA dog .\n", "ids.txt:1: control character U+0001 at column 3", func(r io.Reader) error {
			return ReadFlickr8kTokens(r, "ids.txt", func(int, string, int, string) error { return nil })
		}},
	} {
		err := tc.read(strings.NewReader(tc.in))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s %q: err = %v, want %q...", tc.name, tc.in, err, tc.want)
		}
	}
	// Line ends \r\n and a trailing \r stay fine.
	if names, err := ReadImageList(strings.NewReader("a.jpg\r\nb.jpg\r\r\n"), "ids.txt"); err != nil || len(names) != 2 {
		t.Errorf("CRLF: %q, %v", names, err)
	}
}
