package datasets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// Fuzz targets for the text readers. Each checks properties, not only
// "no panic": an accepted input satisfies the documented invariants and
// round-trips, and an error is a *FormatError naming the file and a
// position that is right (the first bad line, the first invalid byte).
// The seeds are the fixtures in testdata/ plus a few hand-made edge cases;
// crashers found are kept under testdata/fuzz/FuzzName/.

// addFixture adds the file testdata/name as a seed.
func addFixture(f *testing.F, name string) []byte {
	f.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// firstInvalidUTF8 is the index of the first byte of b that is not part of
// valid UTF-8, or -1 (the reference for the readers' offsets).
func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, w := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && w == 1 {
			return i
		}
		i += w
	}
	return -1
}

// chunkReader returns data at most size bytes per Read, then err (io.EOF
// unless set); eofWithData makes the last Read return its bytes together
// with err, as some readers do.
type chunkReader struct {
	data        []byte
	size        int
	err         error
	eofWithData bool
}

func (c *chunkReader) Read(b []byte) (int, error) {
	if len(c.data) == 0 {
		if c.err == nil {
			return 0, io.EOF
		}
		return 0, c.err
	}
	n := copy(b[:min(len(b), c.size)], c.data)
	c.data = c.data[n:]
	if len(c.data) == 0 && c.eofWithData {
		if c.err == nil {
			return n, io.EOF
		}
		return n, c.err
	}
	return n, nil
}

type tokenRec struct {
	line int
	name string
	k    int
	text string
}

func readTokens(data []byte) ([]tokenRec, error) {
	var out []tokenRec
	err := ReadFlickr8kTokens(bytes.NewReader(data), "tok.txt", func(line int, name string, k int, text string) error {
		out = append(out, tokenRec{line, name, k, text})
		return nil
	})
	return out, err
}

// checkFirstBadLine checks that a *FormatError at line L of data is about
// line L: data with lines 1..L-1 blanked still fails at L (the readers skip
// or ignore blank lines), and lines 1..L-1 alone are accepted.
func checkFirstBadLine(t *testing.T, data []byte, err error, file string, read func([]byte) error) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FormatError", err, err)
	}
	if fe.File != file || fe.Line < 1 || !strings.HasPrefix(err.Error(), fmt.Sprintf("%s:%d: ", file, fe.Line)) {
		t.Fatalf("error %q does not name %s and a line", err, file)
	}
	lines := strings.Split(string(data), "\n")
	if fe.Line > len(lines) {
		t.Fatalf("error at line %d of a %d-line input: %v", fe.Line, len(lines), err)
	}
	if strings.Contains(fe.Msg, "line longer than") {
		return
	}
	blanked := strings.Repeat("\n", fe.Line-1) + lines[fe.Line-1]
	var fe2 *FormatError
	if err2 := read([]byte(blanked)); !errors.As(err2, &fe2) || fe2.Line != fe.Line || fe2.Msg != fe.Msg {
		t.Fatalf("line %d alone gives %v, with the others %v", fe.Line, err2, err)
	}
	if fe.Line > 1 {
		prefix := strings.Join(lines[:fe.Line-1], "\n") + "\n"
		if err2 := read([]byte(prefix)); err2 != nil {
			t.Fatalf("error %v, but the lines before line %d fail too: %v", err, fe.Line, err2)
		}
	}
}

func FuzzReadFlickr8kTokens(f *testing.F) {
	f.Add(addFixture(f, "tokens.txt"))
	for _, s := range []string{
		"", "\n\n", "a.jpg#0\tx", "a.jpg#\tx", "#0\tx", "a.jpg#-1\tx", "a.jpg#0\t \n",
		"a#b.jpg#3\tcaption\r\r\n", "\ufeff\ufeffa.jpg#0\tx", "a.jpg#0\t\xe9t\xe9\n",
		"a.jpg#0 x\n", "a.jpg#99999999999999999999\tx", "ok.jpg#1\tfine\nbad line\n",
		"a.jpg#0\tA dog .\ra.jpg#1\tA cat .\r", "a.jpg#0\tA\tdog\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := readTokens(data)
		if err != nil {
			checkFirstBadLine(t, data, err, "tok.txt", func(b []byte) error { _, err := readTokens(b); return err })
			return
		}
		lines := strings.Split(string(data), "\n")
		var again bytes.Buffer
		again.WriteString("\n") // a name may start with a second byte order mark
		prev := 0
		for _, r := range recs {
			switch {
			case r.line <= prev || r.line > len(lines):
				t.Fatalf("record at line %d after line %d of %d", r.line, prev, len(lines))
			case r.name == "" || r.name != strings.TrimSpace(r.name) || strings.ContainsFunc(r.name+r.text, unicode.IsControl):
				t.Fatalf("line %d: bad name %q", r.line, r.name)
			case r.k < 0:
				t.Fatalf("line %d: caption number %d", r.line, r.k)
			case r.text == "" || r.text != strings.TrimSpace(r.text) || !utf8.ValidString(r.text+r.name):
				t.Fatalf("line %d: bad caption %q", r.line, r.text)
			case !strings.Contains(lines[r.line-1], r.text):
				t.Fatalf("line %d %q does not hold the caption %q", r.line, lines[r.line-1], r.text)
			}
			prev = r.line
			fmt.Fprintf(&again, "%s#%d\t%s\n", r.name, r.k, r.text)
		}
		// What was accepted, written back canonically, reads the same.
		recs2, err := readTokens(again.Bytes())
		if err != nil || len(recs2) != len(recs) {
			t.Fatalf("round trip: %d records, %v; want %d", len(recs2), err, len(recs))
		}
		for i := range recs {
			a, b := recs[i], recs2[i]
			if a.name != b.name || a.k != b.k || a.text != b.text {
				t.Fatalf("round trip: %+v became %+v", a, b)
			}
		}
	})
}

func FuzzReadImageList(f *testing.F) {
	for _, s := range []string{"a.jpg\nb.jpg\n", "\ufeffa.jpg\r\n\n  b.jpg  \n", "a b.jpg\n", "a.jpg\t1\n", "\xff.jpg\n", "x\n\xc3"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		read := func(b []byte) ([]string, error) { return ReadImageList(bytes.NewReader(b), "ids.txt") }
		names, err := read(data)
		if err != nil {
			checkFirstBadLine(t, data, err, "ids.txt", func(b []byte) error { _, err := read(b); return err })
			return
		}
		for _, n := range names {
			if n == "" || strings.ContainsFunc(n, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) || !utf8.ValidString(n) {
				t.Fatalf("bad name %q", n)
			}
		}
		// (after an empty line: a name may start with a second byte order mark)
		again, err := read([]byte("\n" + strings.Join(names, "\n")))
		if err != nil || !reflect.DeepEqual(again, names) && len(names) > 0 {
			t.Fatalf("round trip: %q, %v; want %q", again, err, names)
		}
	})
}

func FuzzUTF8Reader(f *testing.F) {
	f.Add([]byte(`{"a": "h\u00e9"}`), uint8(0), uint16(100), false)
	f.Add([]byte("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), uint8(1), uint16(5), true)
	f.Add([]byte("ab\xe2\x82"), uint8(2), uint16(3), false)
	f.Add([]byte("caf\xc3\xa9!"), uint8(3), uint16(4), false) // cut inside the é
	f.Add([]byte("ab\xed\xa0\x80cd"), uint8(0), uint16(1), true)
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, cut uint16, eofWithData bool) {
		// Read whole.
		src := &chunkReader{data: data, size: int(chunk) + 1, eofWithData: eofWithData}
		out, err := io.ReadAll(newUTF8Reader(src, "f.json"))
		bad := firstInvalidUTF8(data)
		if bad < 0 {
			if err != nil || !bytes.Equal(out, data) {
				t.Fatalf("valid UTF-8: got %q, %v", out, err)
			}
		} else {
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != "f.json" || fe.Offset != int64(bad) {
				t.Fatalf("first invalid byte at %d; got %v", bad, err)
			}
			if !bytes.Equal(out, data[:len(out)]) {
				t.Fatalf("passed %q, not a prefix of the input", out)
			}
		}
		// Cut by a read error: the read error comes out, unless an
		// invalid byte comes before the cut.
		c := int(cut) % (len(data) + 1)
		ioErr := errors.New("input/output error")
		src = &chunkReader{data: data[:c], size: int(chunk) + 1, err: ioErr, eofWithData: eofWithData}
		_, err = io.ReadAll(newUTF8Reader(src, "f.json"))
		if bad < 0 || bad >= c {
			if !errors.Is(err, ioErr) {
				t.Fatalf("input cut at %d of %d by a read error (first invalid byte %d): got %v", c, len(data), bad, err)
			}
		}
	})
}

type karpathyFile struct {
	Images []KarpathyImage `json:"images"`
}

func readKarpathy(data []byte, chunk int) ([]KarpathyImage, error) {
	var out []KarpathyImage
	err := ReadKarpathy(&chunkReader{data: data, size: chunk}, "k.json", func(im KarpathyImage) error {
		out = append(out, im)
		return nil
	})
	return out, err
}

// checkJSONError checks an error of a JSON reader: a *FormatError naming
// the file and an offset within the input; one about invalid UTF-8 is at
// the first invalid byte.
func checkJSONError(t *testing.T, data []byte, err error, file string) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FormatError", err, err)
	}
	if fe.File != file || fe.Line != 0 || fe.Offset < 0 || fe.Offset > int64(len(data)) ||
		!strings.HasPrefix(err.Error(), fmt.Sprintf("%s: at byte %d: ", file, fe.Offset)) {
		t.Fatalf("error %q: want %s and an offset in [0, %d]", err, file, len(data))
	}
	if strings.Contains(fe.Msg, "invalid UTF-8") {
		if bad := firstInvalidUTF8(data); int64(bad) != fe.Offset {
			t.Fatalf("error %q, but the first invalid byte is at %d", err, bad)
		}
	}
}

func FuzzReadKarpathy(f *testing.F) {
	f.Add(addFixture(f, "karpathy.json"), uint8(7))
	for _, s := range []string{
		`{"images": []}`, `{"images": [{"filename": "a", "split": "train", "sentences": null}]}`,
		`{"images": [], "images": [{"filename": "a", "split": "x", "sentences": []}]}`,
		`{"images": [{"filename": "a", "split": "x", "sentences": []}], "images": []}`,
		`{"images": [{"filename": "a", "split": "train", "sentences": []}]}{}`,
		`{"images": [{"filename": "a", "split": "train", "sentences": [], "imgid": 1e99}]}`,
		"{\"images\": [{\"filename\": \"\xe9\", \"split\": \"t\", \"sentences\": []}]}",
		`[1]`, `{"images": {}}`, `{"x": [1,2,{"y":3}], "images": [`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		ims, err := readKarpathy(data, int(chunk)+1)
		if err != nil {
			checkJSONError(t, data, err, "k.json")
			return
		}
		if !utf8.Valid(data) || !json.Valid(data) {
			t.Fatalf("accepted %d images of an input that is not valid UTF-8 JSON", len(ims))
		}
		// The images are those a plain decoder (and Python's json, which
		// keeps the last of duplicate keys, as Go's does) finds.
		var plain struct {
			Images []json.RawMessage `json:"images"`
		}
		if err := json.Unmarshal(data, &plain); err == nil && len(plain.Images) != len(ims) {
			t.Fatalf("read %d images, json.Unmarshal finds %d", len(ims), len(plain.Images))
		}
		for i, im := range ims {
			if im.Filename == "" || im.Split == "" || im.Sentences == nil {
				t.Fatalf("image %d accepted without filename, split or sentences: %+v", i, im)
			}
		}
		b, err := json.Marshal(karpathyFile{append([]KarpathyImage{}, ims...)})
		if err != nil {
			t.Fatal(err)
		}
		again, err := readKarpathy(b, 4096)
		if err != nil || !reflect.DeepEqual(again, ims) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, ims)
		}
	})
}

func FuzzReadCOCOCaptions(f *testing.F) {
	f.Add(addFixture(f, "coco.json"), uint8(5))
	for _, s := range []string{
		`{"images": [], "annotations": []}`, `{"images": []}`, `{"images": [], "annotations": []} {}`,
		`{"images": [{"id": 1, "width": 99999999999}], "annotations": []}`,
		"{\"images\": [], \"annotations\": [{\"caption\": \"\xff\"}]}", `null`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		c, err := ReadCOCOCaptions(&chunkReader{data: data, size: int(chunk) + 1}, "c.json")
		if err != nil {
			checkJSONError(t, data, err, "c.json")
			return
		}
		if !utf8.Valid(data) || !json.Valid(data) {
			t.Fatalf("accepted an input that is not valid UTF-8 JSON: %q", data)
		}
		if c.Images == nil || c.Annotations == nil {
			t.Fatalf("accepted without images or annotations")
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ReadCOCOCaptions(bytes.NewReader(b), "c.json")
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, c)
		}
	})
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func sameRecord(a, b BUTDRecord) bool {
	return a.ImageID == b.ImageID && a.Width == b.Width && a.Height == b.Height && a.NumBoxes == b.NumBoxes &&
		a.Dim == b.Dim && sameBits(a.Boxes, b.Boxes) && sameBits(a.Features, b.Features)
}

func FuzzTSVReader(f *testing.F) {
	f.Add(addFixture(f, "butd.tsv"))
	for _, s := range []string{
		"1\t2\t3\n", "1\t1\t1\t0\t\t\n\n\n", "1\t1\t1\t1\tAAAAAAAAAAAAAAAAAAAAAA==\tAAA=\n",
		"1\t1\t1\t4611686018427387904\t\t\n", "x\t1\t1\t0\t\t\n", "1\t1\t1\t0\t\t\r\r\n2",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "f.tsv"
		lines := strings.Split(string(data), "\n")
		r := NewTSVReader(bytes.NewReader(data), file, 1, 0)
		var recs []BUTDRecord
		var rerr error
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				rerr = err
				break
			}
			if len(rec.Boxes) != 4*rec.NumBoxes || len(rec.Features) != rec.NumBoxes*rec.Dim ||
				rec.Width < 0 || rec.Height < 0 || rec.Dim < 0 || (rec.NumBoxes == 0 && rec.Dim != 0) {
				t.Fatalf("record %d breaks the invariants: %+v", len(recs), rec)
			}
			var b bytes.Buffer
			if err := EncodeBUTD(&b, rec); err != nil {
				t.Fatal(err)
			}
			again, err := NewTSVReader(&b, file, 1, 0).Next()
			if err != nil || !sameRecord(again, rec) {
				t.Fatalf("round trip of %+v: %+v, %v", rec, again, err)
			}
			recs = append(recs, rec)
		}
		if rerr != nil {
			checkFirstBadLine(t, data, rerr, file, func(b []byte) error {
				r := NewTSVReader(bytes.NewReader(b), file, 1, 0)
				for {
					if _, err := r.Next(); err != nil {
						if err == io.EOF {
							return nil
						}
						return err
					}
				}
			})
		}
		// The index pass finds the same records at the right lines and
		// offsets; reading at an indexed location gives the record.
		ix := NewTSVReader(bytes.NewReader(data), file, 1, 0)
		for i := 0; ; i++ {
			id, off, line, err := ix.NextID()
			if err != nil {
				if err != io.EOF && i < len(recs) {
					t.Fatalf("NextID fails at record %d that Next read: %v", i, err)
				}
				break
			}
			if line < 1 || line > len(lines) || off < 0 || off > int64(len(data)) ||
				!strings.HasPrefix(string(data[off:]), lines[line-1]) || !firstFieldIs(lines[line-1], id) {
				t.Fatalf("NextID %d: id %d at line %d, byte %d: that is not where it is", i, id, line, off)
			}
			if i < len(recs) {
				if recs[i].ImageID != id {
					t.Fatalf("record %d: Next says id %d, NextID %d", i, recs[i].ImageID, id)
				}
				at, err := NewTSVReader(bytes.NewReader(data[off:]), file, line, off).Next()
				if err != nil || !sameRecord(at, recs[i]) {
					t.Fatalf("record %d read at line %d, byte %d: %+v, %v", i, line, off, at, err)
				}
			}
		}
	})
}

// firstFieldIs reports whether the first tab-separated field of line is id.
func firstFieldIs(line string, id int64) bool {
	f, _, _ := strings.Cut(line, "\t")
	n, err := strconv.ParseInt(f, 10, 64)
	return err == nil && n == id
}
