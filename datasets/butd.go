package datasets

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
)

// BUTDRecord is one line of a bottom-up-attention TSV file
// (image_id, image_w, image_h, num_boxes, boxes, features; the last two are
// base64 of little-endian float32 arrays, boxes in pixels x0,y0,x1,y1).
type BUTDRecord struct {
	ImageID  int64
	Width    int
	Height   int
	NumBoxes int
	Dim      int       // feature size per box, len(Features)/NumBoxes
	Boxes    []float32 // NumBoxes*4, pixels
	Features []float32 // NumBoxes*Dim
}

// maxTSVLine bounds one TSV record (100 boxes x 2048 floats is ~1.1 MB).
const maxTSVLine = 64 << 20

// TSVReader streams BUTD TSV records. Lines and their start offsets are
// tracked so errors name the file and line, and [TSVReader.Offset] can feed
// an index for random access.
type TSVReader struct {
	file string
	br   *bufio.Reader
	line int
	off  int64 // offset of the next line
	buf  []byte
}

// NewTSVReader reads records from r; file names it in errors. firstLine and
// offset say where r starts (1 and 0 at the top of a file).
func NewTSVReader(r io.Reader, file string, firstLine int, offset int64) *TSVReader {
	return &TSVReader{file: file, br: bufio.NewReaderSize(r, 1<<20), line: firstLine - 1, off: offset}
}

// Offset returns the byte offset and 1-based line number of the next record.
func (t *TSVReader) Offset() (int64, int) { return t.off, t.line + 1 }

// readLine returns the next line without its ending, or io.EOF.
func (t *TSVReader) readLine() ([]byte, error) {
	t.buf = t.buf[:0]
	for {
		frag, err := t.br.ReadSlice('\n')
		t.buf = append(t.buf, frag...)
		if len(t.buf) > maxTSVLine {
			return nil, lineErr(t.file, t.line+1, "line longer than %d bytes", maxTSVLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(t.buf) > 0 {
			break
		}
		if err == io.EOF {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("%s: reading line %d: %w", t.file, t.line+1, err)
		}
		break
	}
	t.line++
	t.off += int64(len(t.buf))
	return bytes.TrimRight(t.buf, "\r\n"), nil
}

// Next returns the next record, skipping blank lines; io.EOF at the end.
// The returned slices are freshly allocated.
func (t *TSVReader) Next() (BUTDRecord, error) {
	for {
		line, err := t.readLine()
		if err != nil {
			return BUTDRecord{}, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		return t.parse(line)
	}
}

// NextID returns only the image id of the next record (for indexing) and
// the record's start offset and line.
func (t *TSVReader) NextID() (id int64, off int64, line int, err error) {
	for {
		off = t.off
		l, err := t.readLine()
		if err != nil {
			return 0, 0, 0, err
		}
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		f, _, ok := bytes.Cut(l, []byte{'\t'})
		if !ok {
			return 0, 0, 0, lineErr(t.file, t.line, "want 6 tab-separated fields, found 1")
		}
		id, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, 0, 0, lineErr(t.file, t.line, "image_id %q is not an integer", f)
		}
		return id, off, t.line, nil
	}
}

func (t *TSVReader) parse(line []byte) (BUTDRecord, error) {
	f := bytes.Split(line, []byte{'\t'})
	if len(f) != 6 {
		return BUTDRecord{}, lineErr(t.file, t.line, "want 6 tab-separated fields (image_id, image_w, image_h, num_boxes, boxes, features), found %d", len(f))
	}
	var r BUTDRecord
	id, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil {
		return r, lineErr(t.file, t.line, "image_id %q is not an integer", f[0])
	}
	r.ImageID = id
	for i, x := range []struct {
		name string
		dst  *int
	}{{"image_w", &r.Width}, {"image_h", &r.Height}, {"num_boxes", &r.NumBoxes}} {
		v, err := strconv.Atoi(string(f[i+1]))
		if err != nil || v < 0 {
			return r, lineErr(t.file, t.line, "%s %q is not a non-negative integer", x.name, f[i+1])
		}
		*x.dst = v
	}
	if r.Boxes, err = decodeF32(f[4]); err != nil {
		return r, lineErr(t.file, t.line, "boxes: %v", err)
	}
	if r.Features, err = decodeF32(f[5]); err != nil {
		return r, lineErr(t.file, t.line, "features: %v", err)
	}
	// Not len != 4*NumBoxes: that product wraps around for a huge
	// num_boxes (2^62 gave 0, matching empty boxes).
	if len(r.Boxes)%4 != 0 || len(r.Boxes)/4 != r.NumBoxes {
		return r, lineErr(t.file, t.line, "boxes hold %d floats, want 4 x num_boxes (%d)", len(r.Boxes), r.NumBoxes)
	}
	if r.NumBoxes == 0 {
		if len(r.Features) != 0 {
			return r, lineErr(t.file, t.line, "features given for 0 boxes")
		}
		return r, nil
	}
	if len(r.Features)%r.NumBoxes != 0 {
		return r, lineErr(t.file, t.line, "features hold %d floats, not a multiple of num_boxes %d", len(r.Features), r.NumBoxes)
	}
	r.Dim = len(r.Features) / r.NumBoxes
	return r, nil
}

func decodeF32(b64 []byte) ([]float32, error) {
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
	n, err := base64.StdEncoding.Decode(raw, b64)
	if err != nil {
		return nil, fmt.Errorf("bad base64: %v", err)
	}
	if n%4 != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of float32", n)
	}
	out := make([]float32, n/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out, nil
}

// EncodeBUTD writes one record in the TSV format (for tests and tools).
func EncodeBUTD(w io.Writer, r BUTDRecord) error {
	enc := func(v []float32) string {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	_, err := fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%s\t%s\n", r.ImageID, r.Width, r.Height, r.NumBoxes, enc(r.Boxes), enc(r.Features))
	return err
}

// TSVLoc is where a record starts.
type TSVLoc struct {
	File   string
	Offset int64
	Line   int
}

// IndexTSV scans files once and maps image id to the record's location,
// keeping the first of duplicate ids (their count is returned). Memory is
// one entry per image, not per feature. It stops with ctx's cause when ctx
// is done.
func IndexTSV(ctx context.Context, files []string) (map[int64]TSVLoc, int, error) {
	idx := map[int64]TSVLoc{}
	dups := 0
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return nil, 0, err
		}
		t := NewTSVReader(f, p, 1, 0)
		for n := 0; ; n++ {
			if n%1024 == 0 && ctx.Err() != nil { // a BUTD TSV of COCO is tens of GB
				f.Close()
				return nil, 0, context.Cause(ctx)
			}
			id, off, line, err := t.NextID()
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return nil, 0, err
			}
			if _, dup := idx[id]; dup {
				dups++
				continue
			}
			idx[id] = TSVLoc{File: p, Offset: off, Line: line}
		}
		f.Close()
	}
	return idx, dups, nil
}

// ReadTSVAt reads the record at loc.
func ReadTSVAt(loc TSVLoc) (BUTDRecord, error) {
	f, err := os.Open(loc.File)
	if err != nil {
		return BUTDRecord{}, err
	}
	defer f.Close()
	if _, err := f.Seek(loc.Offset, io.SeekStart); err != nil {
		return BUTDRecord{}, err
	}
	t := NewTSVReader(f, loc.File, loc.Line, loc.Offset)
	return t.Next()
}
