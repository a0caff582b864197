// Package npy reads NumPy .npy files as a stream of float32 rows.
//
// # Contract
//
//   - Header versions 1.0, 2.0 and 3.0 (3.0: UTF-8 header) are read; the
//     header dict must give 'descr', 'fortran_order' and 'shape'.
//   - dtype: little- or big-endian float32 ('<f4', '>f4', '=f4', '|f4'
//     is not valid for floats) and float64 ('<f8', '>f8', converted to
//     float32). Other dtypes are refused with a clear error.
//   - Fortran order is refused: rows must be contiguous (C order).
//   - The file size must equal header + prod(shape) * itemsize: a truncated
//     or padded file is an error naming the expected and actual size.
//   - Rows are the first axis; a row is prod(shape[1:]) values. Reading is
//     streamed through a fixed buffer: memory does not depend on the file
//     size. Little-endian float32 is read straight into the caller's slice.
package npy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Magic starts every .npy file.
const Magic = "\x93NUMPY"

// ErrFormat is wrapped by every error about a malformed or unsupported file.
var ErrFormat = errors.New("npy")

// Header is the parsed .npy header.
type Header struct {
	Major, Minor int
	Descr        string // e.g. "<f4"
	Fortran      bool
	Shape        []int
	DataOffset   int64 // where the data starts
	ItemSize     int   // bytes per value
	BigEndian    bool
}

// RowLen returns the number of values per row (prod(shape[1:]); 1 for 1-D).
func (h Header) RowLen() int {
	n := 1
	for _, d := range h.Shape[min(1, len(h.Shape)):] {
		n *= d
	}
	return n
}

// Rows returns shape[0] (1 for a 0-D array).
func (h Header) Rows() int {
	if len(h.Shape) == 0 {
		return 1
	}
	return h.Shape[0]
}

// DataBytes returns the size of the data section.
func (h Header) DataBytes() int64 {
	return int64(h.Rows()) * int64(h.RowLen()) * int64(h.ItemSize)
}

func fail(file string, off int64, format string, args ...any) error {
	return fmt.Errorf("%w: %s: at byte %d: %s", ErrFormat, file, off, fmt.Sprintf(format, args...))
}

// ReadHeader parses the header from r (positioned at the start of the file);
// file names the file in errors.
func ReadHeader(r io.Reader, file string) (Header, error) {
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:8]); err != nil {
		return Header{}, fail(file, 0, "too short for a .npy header: %v", err)
	}
	if string(pre[:6]) != Magic {
		return Header{}, fail(file, 0, "bad magic %q, not a .npy file", pre[:6])
	}
	h := Header{Major: int(pre[6]), Minor: int(pre[7])}
	var hlen int
	var off int64
	switch h.Major {
	case 1:
		if _, err := io.ReadFull(r, pre[8:10]); err != nil {
			return Header{}, fail(file, 8, "truncated header length")
		}
		hlen = int(binary.LittleEndian.Uint16(pre[8:10]))
		off = 10
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Header{}, fail(file, 8, "truncated header length")
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
		off = 12
	default:
		return Header{}, fail(file, 6, "unsupported format version %d.%d", h.Major, h.Minor)
	}
	if hlen > 1<<20 {
		return Header{}, fail(file, 8, "header length %d is implausible", hlen)
	}
	raw := make([]byte, hlen)
	if _, err := io.ReadFull(r, raw); err != nil {
		return Header{}, fail(file, off, "truncated header (want %d bytes)", hlen)
	}
	h.DataOffset = off + int64(hlen)
	text := string(raw)
	if h.Major < 3 {
		for i := 0; i < len(raw); i++ {
			if raw[i] >= 0x80 {
				return Header{}, fail(file, off+int64(i), "non-ASCII byte in a version %d header", h.Major)
			}
		}
	} else if !utf8.ValidString(text) {
		return Header{}, fail(file, off, "header is not valid UTF-8")
	}
	d, err := parseDict(text)
	if err != nil {
		return Header{}, fail(file, off, "header %q: %v", strings.TrimSpace(text), err)
	}
	descr, ok := d["descr"].(string)
	if !ok {
		return Header{}, fail(file, off, "header has no string 'descr'")
	}
	fo, ok := d["fortran_order"].(bool)
	if !ok {
		return Header{}, fail(file, off, "header has no boolean 'fortran_order'")
	}
	shape, ok := d["shape"].([]int)
	if !ok {
		return Header{}, fail(file, off, "header has no integer tuple 'shape'")
	}
	h.Descr, h.Fortran, h.Shape = descr, fo, shape
	switch descr {
	case "<f4", "=f4":
		h.ItemSize = 4
	case ">f4":
		h.ItemSize, h.BigEndian = 4, true
	case "<f8", "=f8":
		h.ItemSize = 8
	case ">f8":
		h.ItemSize, h.BigEndian = 8, true
	default:
		return Header{}, fail(file, off, "dtype %q is not supported (want float32 '<f4' or float64 '<f8')", descr)
	}
	if fo {
		return Header{}, fail(file, off, "fortran_order is True; only C-order arrays can be streamed by rows")
	}
	// prod(shape) * itemsize must fit in an int64: a wrapped product
	// would let a header-only file pass the size check in Open.
	total := uint64(h.ItemSize)
	for _, n := range shape {
		if n < 0 {
			return Header{}, fail(file, off, "negative dimension in shape %v", shape)
		}
		hi, lo := bits.Mul64(total, uint64(n))
		if n != 0 && (hi != 0 || lo > math.MaxInt64) {
			return Header{}, fail(file, off, "shape %v of %s is too large", shape, descr)
		}
		if n != 0 {
			total = lo
		}
	}
	return h, nil
}

// parseDict parses the Python dict literal of a .npy header: string keys,
// values that are strings, True/False, or tuples of integers.
func parseDict(s string) (map[string]any, error) {
	p := &parser{s: s}
	p.ws()
	if !p.eat('{') {
		return nil, errors.New("want '{'")
	}
	out := map[string]any{}
	for {
		p.ws()
		if p.eat('}') {
			break
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.ws()
		if !p.eat(':') {
			return nil, fmt.Errorf("want ':' after key %q", k)
		}
		p.ws()
		v, err := p.value()
		if err != nil {
			return nil, fmt.Errorf("key %q: %v", k, err)
		}
		out[k] = v
		p.ws()
		if p.eat(',') {
			continue
		}
		p.ws()
		if !p.eat('}') {
			return nil, errors.New("want ',' or '}'")
		}
		break
	}
	p.ws()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("trailing text %q", p.s[p.i:])
	}
	return out, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) ws() {
	for p.i < len(p.s) && strings.ContainsRune(" \t\n\r", rune(p.s[p.i])) {
		p.i++
	}
}

func (p *parser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", errors.New("want a quoted string")
	}
	q := p.s[p.i]
	j := strings.IndexByte(p.s[p.i+1:], q)
	if j < 0 {
		return "", errors.New("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+j]
	p.i += j + 2
	return v, nil
}

func (p *parser) value() (any, error) {
	switch {
	case p.i >= len(p.s):
		return nil, errors.New("missing value")
	case p.s[p.i] == '\'' || p.s[p.i] == '"':
		return p.str()
	case strings.HasPrefix(p.s[p.i:], "True"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "False"):
		p.i += 5
		return false, nil
	case p.s[p.i] == '(':
		p.i++
		var dims []int
		for {
			p.ws()
			if p.eat(')') {
				return dims, nil
			}
			j := p.i
			for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
				p.i++
			}
			if j == p.i {
				return nil, errors.New("want an integer in the shape tuple")
			}
			n, err := strconv.Atoi(p.s[j:p.i])
			if err != nil {
				return nil, err
			}
			p.eat('L') // Python 2 long suffix
			dims = append(dims, n)
			p.ws()
			if p.eat(',') {
				continue
			}
			p.ws()
			if !p.eat(')') {
				return nil, errors.New("want ',' or ')' in the shape tuple")
			}
			return dims, nil
		}
	}
	return nil, fmt.Errorf("unsupported value at %q", p.s[p.i:min(len(p.s), p.i+10)])
}

// Reader streams the rows of a .npy file as float32.
type Reader struct {
	f    *os.File
	file string
	h    Header
	br   *bufio.Reader
	row  int // next row index
	buf  []byte
	off  int64 // byte offset of the next row
}

// bufSize is the read buffer; memory stays at this plus the caller's slice.
const bufSize = 1 << 20

// Open opens path and checks its header and size.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	h, err := ReadHeader(bufio.NewReader(f), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if want := h.DataOffset + h.DataBytes(); st.Size() != want {
		f.Close()
		return nil, fail(path, st.Size(), "file is %d bytes, shape %v of %s needs %d", st.Size(), h.Shape, h.Descr, want)
	}
	if _, err := f.Seek(h.DataOffset, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return &Reader{f: f, file: path, h: h, br: bufio.NewReaderSize(f, bufSize), off: h.DataOffset}, nil
}

// Header returns the file's header.
func (r *Reader) Header() Header { return r.h }

// Close closes the file.
func (r *Reader) Close() error { return r.f.Close() }

// Skip moves forward n rows without reading them.
func (r *Reader) Skip(n int) error {
	if n < 0 || n > r.h.Rows()-r.row { // not r.row+n, which can wrap around
		return fmt.Errorf("npy: %s: cannot skip %d rows from row %d of %d", r.file, n, r.row, r.h.Rows())
	}
	r.row += n
	r.off += int64(n) * int64(r.h.RowLen()) * int64(r.h.ItemSize)
	if _, err := r.f.Seek(r.off, io.SeekStart); err != nil {
		return err
	}
	r.br.Reset(r.f)
	return nil
}

// littleEndian reports whether this machine stores numbers little-endian.
var littleEndian = func() bool { x := uint16(1); return *(*byte)(unsafe.Pointer(&x)) == 1 }()

// Read fills dst with as many whole rows as fit (len(dst)/RowLen) and
// returns the number of rows read; io.EOF after the last row.
func (r *Reader) Read(dst []float32) (int, error) {
	rl := r.h.RowLen()
	left := r.h.Rows() - r.row
	if left == 0 {
		return 0, io.EOF
	}
	if rl == 0 {
		r.row += left
		return left, nil
	}
	rows := min(len(dst)/rl, left)
	if rows == 0 {
		return 0, fmt.Errorf("npy: %s: buffer of %d values holds no row of %d", r.file, len(dst), rl)
	}
	vals := dst[:rows*rl]
	var err error
	if r.h.ItemSize == 4 && r.h.BigEndian == !littleEndian {
		// Native float32: read the bytes straight into dst.
		b := unsafe.Slice((*byte)(unsafe.Pointer(&vals[0])), len(vals)*4)
		_, err = io.ReadFull(r.br, b)
	} else {
		err = r.convert(vals)
	}
	if err != nil {
		return 0, fail(r.file, r.off, "reading row %d: %v", r.row, err)
	}
	r.row += rows
	r.off += int64(len(vals)) * int64(r.h.ItemSize)
	return rows, nil
}

// convert reads len(vals) values of a non-native dtype.
func (r *Reader) convert(vals []float32) error {
	is := r.h.ItemSize
	if cap(r.buf) < 64*1024 {
		r.buf = make([]byte, 64*1024)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if r.h.BigEndian {
		order = binary.BigEndian
	}
	for i := 0; i < len(vals); {
		n := min(len(vals)-i, len(r.buf)/is)
		b := r.buf[:n*is]
		if _, err := io.ReadFull(r.br, b); err != nil {
			return err
		}
		if is == 4 {
			for j := 0; j < n; j++ {
				vals[i+j] = math.Float32frombits(order.Uint32(b[4*j:]))
			}
		} else {
			for j := 0; j < n; j++ {
				vals[i+j] = float32(math.Float64frombits(order.Uint64(b[8*j:])))
			}
		}
		i += n
	}
	return nil
}

// Write writes a C-order float32 .npy file (version 1.0) of shape with
// data; used by tests and tools to make fixtures in the exact format.
func Write(w io.Writer, shape []int, data []float32) error {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n != len(data) {
		return fmt.Errorf("npy: shape %v needs %d values, got %d", shape, n, len(data))
	}
	var dims []string
	for _, d := range shape {
		dims = append(dims, strconv.Itoa(d))
	}
	st := strings.Join(dims, ", ")
	if len(shape) == 1 {
		st += ","
	}
	hdr := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", st)
	// Pad so that the data starts on a 64-byte boundary, ending with \n.
	total := 10 + len(hdr) + 1
	pad := (64 - total%64) % 64
	hdr += strings.Repeat(" ", pad) + "\n"
	if len(hdr) > math.MaxUint16 {
		return fmt.Errorf("npy: header too long")
	}
	head := append([]byte(Magic), 1, 0, 0, 0)
	binary.LittleEndian.PutUint16(head[8:], uint16(len(hdr)))
	if _, err := w.Write(append(head, hdr...)); err != nil {
		return err
	}
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	_, err := w.Write(b)
	return err
}
