package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// build makes a .npy file by hand: version, header dict text and raw data,
// padding the header the way numpy does (to a multiple of 64, ending in \n).
func build(major byte, dict string, data []byte) []byte {
	pre := 10
	if major >= 2 {
		pre = 12
	}
	total := pre + len(dict) + 1
	dict += strings.Repeat(" ", (64-total%64)%64) + "\n"
	b := append([]byte(Magic), major, 0)
	if major >= 2 {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(dict)))
	} else {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(dict)))
	}
	b = append(b, dict...)
	return append(b, data...)
}

func f32(order binary.AppendByteOrder, vals ...float32) []byte {
	var b []byte
	for _, v := range vals {
		b = order.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func f64(order binary.AppendByteOrder, vals ...float32) []byte {
	var b []byte
	for _, v := range vals {
		b = order.AppendUint64(b, math.Float64bits(float64(v)))
	}
	return b
}

func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "a.npy")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readAll(t *testing.T, p string, buf int) ([]float32, Header, error) {
	t.Helper()
	r, err := Open(p)
	if err != nil {
		return nil, Header{}, err
	}
	defer r.Close()
	var out []float32
	dst := make([]float32, buf)
	for {
		n, err := r.Read(dst)
		if err == io.EOF {
			return out, r.Header(), nil
		}
		if err != nil {
			return nil, Header{}, err
		}
		out = append(out, dst[:n*r.Header().RowLen()]...)
	}
}

func TestReadFormats(t *testing.T) {
	t.Parallel()
	vals := []float32{0, 1.5, -2, 3.25, 4, 5, 6, 7, 8, 9, 10, 11}
	le, be := binary.LittleEndian, binary.BigEndian
	for _, tc := range []struct {
		name string
		file []byte
		rows int
	}{
		{"v1 <f4", build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 2), }", f32(le, vals...)), 2},
		{"v2 <f4", build(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", f32(le, vals...)), 4},
		{"v3 utf8", build(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 2), 'note': 'é'}", f32(le, vals...)), 6},
		{"big endian", build(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (3, 4), }", f32(be, vals...)), 3},
		{"float64", build(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (12,), }", f64(le, vals...)), 12},
		{"big float64", build(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (2, 6), }", f64(be, vals...)), 2},
		{"py2 long + double quotes", build(1, `{"descr": "<f4", "fortran_order": False, "shape": (2L, 6L)}`, f32(le, vals...)), 2},
		{"key order", build(1, "{'shape': (3, 4), 'fortran_order': False, 'descr': '<f4'}", f32(le, vals...)), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := writeTemp(t, tc.file)
			for _, buf := range []int{12, 13, 100} {
				got, h, err := readAll(t, p, buf)
				if err != nil {
					t.Fatal(err)
				}
				if h.Rows() != tc.rows || !equal(got, vals) {
					t.Fatalf("buf %d: rows %d, values %v", buf, h.Rows(), got)
				}
			}
		})
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReadErrors(t *testing.T) {
	t.Parallel()
	le := binary.LittleEndian
	good := f32(le, 1, 2, 3, 4, 5, 6)
	for _, tc := range []struct {
		name, want string
		file       []byte
	}{
		{"bad magic", "bad magic", append([]byte("\x93NUMPX\x01\x00\x10\x00"), good...)},
		{"version 4", "unsupported format version 4.0", build(4, "{}", nil)},
		{"int dtype", "dtype \"<i4\" is not supported", build(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", good)},
		{"fortran", "fortran_order is True", build(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", good)},
		{"truncated data", "needs", build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }", good)},
		{"extra data", "needs", build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }", good)},
		{"no shape", "no integer tuple 'shape'", build(1, "{'descr': '<f4', 'fortran_order': False}", good)},
		{"garbage header", "want '{'", build(1, "descr=<f4", good)},
		{"non-ascii v1", "non-ASCII", build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 'é'}", good)},
		{"short", "too short", []byte("\x93NU")},
		// prod(shape) * itemsize overflows int64: the size check must not
		// wrap around and accept a header-only file.
		{"shape overflows", "too large", build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4611686018427387904), }", nil)},
		{"rows overflow", "too large", build(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", nil)},
		{"empty rows overflow", "too large", build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4611686018427387904), }", nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := writeTemp(t, tc.file)
			_, _, err := readAll(t, p, 100)
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want an npy error naming the file and %q", err, tc.want)
			}
		})
	}
}

func TestWriteRoundTripAndSkip(t *testing.T) {
	t.Parallel()
	vals := make([]float32, 5*4)
	for i := range vals {
		vals[i] = float32(i) / 3
	}
	var b bytes.Buffer
	if err := Write(&b, []int{5, 2, 2}, vals); err != nil {
		t.Fatal(err)
	}
	if (b.Len()-len(vals)*4)%64 != 0 {
		t.Fatalf("data does not start on a 64-byte boundary")
	}
	p := writeTemp(t, b.Bytes())
	r, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Skip(3); err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, 8)
	n, err := r.Read(dst)
	if err != nil || n != 2 || !equal(dst, vals[12:]) {
		t.Fatalf("after skip: n %d err %v %v", n, err, dst)
	}
	if _, err := r.Read(dst); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
	if err := r.Skip(1); err == nil {
		t.Fatal("skip past the end: want an error")
	}
	// row+n wrapped around for a huge n and passed the bounds check.
	if err := r.Skip(math.MaxInt); err == nil {
		t.Fatal("skip of MaxInt rows: want an error")
	}
}

// BenchmarkReadVsRaw streams a 400x36x2048 float32 .npy (SCAN's layout,
// 118 MB) into float32 rows and, in the same iteration, reads the same
// file's raw bytes with os.File.Read into a 1 MiB buffer (the anchor). It
// reports both rates and npy/raw.
func BenchmarkReadVsRaw(b *testing.B) {
	const rows, rl = 400, 36 * 2048
	vals := make([]float32, rows*rl)
	for i := range vals {
		vals[i] = float32(i % 977)
	}
	p := filepath.Join(b.TempDir(), "ims.npy")
	f, _ := os.Create(p)
	if err := Write(f, []int{rows, 36, 2048}, vals); err != nil {
		b.Fatal(err)
	}
	f.Close()
	size := float64(rows * rl * 4)
	buf := make([]byte, 1<<20)
	dst := make([]float32, 8*rl)
	var raw, npy time.Duration
	for b.Loop() {
		t0 := time.Now()
		f, _ := os.Open(p)
		for {
			if _, err := f.Read(buf); err != nil {
				break
			}
		}
		f.Close()
		t1 := time.Now()
		r, err := Open(p)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := r.Read(dst); err != nil {
				break
			}
		}
		r.Close()
		t2 := time.Now()
		raw += t1.Sub(t0)
		npy += t2.Sub(t1)
	}
	rawMB := size * float64(b.N) / raw.Seconds() / 1e6
	npyMB := size * float64(b.N) / npy.Seconds() / 1e6
	b.ReportMetric(rawMB, "raw_MB/s")
	b.ReportMetric(npyMB, "npy_MB/s")
	b.ReportMetric(npyMB/rawMB, "npy/raw")
}
