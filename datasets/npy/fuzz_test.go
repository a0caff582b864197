package npy

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// FuzzOpen feeds arbitrary bytes to Open and Read as a .npy file. An
// accepted file has a header whose sizes are exact (no wrapped products:
// checked with big integers) and matches the file size; its rows read back
// as the reference decoding of the data bytes, whole and after Skip. A
// refused one is an error wrapping ErrFormat that names the file. Memory
// stays bounded whatever the header claims (an .npy header claiming a huge
// shape must not make the reader allocate for it). Seeds: testdata/*.npy.
func FuzzOpen(f *testing.F) {
	fixtures, _ := filepath.Glob(filepath.Join("testdata", "*.npy"))
	if len(fixtures) == 0 {
		f.Fatal("no testdata/*.npy fixtures")
	}
	for _, p := range fixtures {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(1), uint8(1))
	}
	for _, dict := range []string{
		"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4611686018427387904), }",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }",
		"{'descr': '<f8', 'fortran_order': False, 'shape': (1, 0, 9223372036854775807), }",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
		"{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }",
		"{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1)} trailing",
	} {
		f.Add(build(1, dict, make([]byte, 8)), uint8(0), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, bufRows, skip uint8) {
		p := filepath.Join(t.TempDir(), "f.npy")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		r, err := Open(p)
		if err != nil {
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), p) {
				t.Fatalf("error %q does not wrap ErrFormat and name the file", err)
			}
			return
		}
		defer r.Close()
		h := r.Header()
		// Sizes, exactly.
		prod := big.NewInt(int64(h.ItemSize))
		for _, d := range h.Shape {
			if d < 0 {
				t.Fatalf("negative dimension accepted: %v", h.Shape)
			}
			prod.Mul(prod, big.NewInt(int64(d)))
		}
		if !prod.IsInt64() || prod.Int64() != h.DataBytes() || h.DataOffset+h.DataBytes() != int64(len(data)) {
			t.Fatalf("shape %v x %d bytes = %v, DataBytes %d, offset %d, file %d bytes", h.Shape, h.ItemSize, prod, h.DataBytes(), h.DataOffset, len(data))
		}
		if h.Fortran || (h.ItemSize != 4 && h.ItemSize != 8) {
			t.Fatalf("accepted header %+v", h)
		}
		// Reference decoding of the data section.
		raw := data[h.DataOffset:]
		var order binary.ByteOrder = binary.LittleEndian
		if h.BigEndian {
			order = binary.BigEndian
		}
		ref := func(i int) float32 {
			if h.ItemSize == 4 {
				return math.Float32frombits(order.Uint32(raw[4*i:]))
			}
			return float32(math.Float64frombits(order.Uint64(raw[8*i:])))
		}
		rows, rl := h.Rows(), h.RowLen()
		if rows == 0 {
			if _, err := r.Read(make([]float32, 1)); err != io.EOF {
				t.Fatalf("0 rows: Read gives %v, want io.EOF", err)
			}
			return
		}
		// rows > 0, so rl*ItemSize <= the data bytes <= len(data):
		// a buffer of a few rows is small.
		dst := make([]float32, max(rl, 1)*(1+int(bufRows)%3))
		got := 0
		for {
			n, err := r.Read(dst)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("row %d: %v", got, err)
			}
			for i, v := range dst[:n*rl] {
				if w := ref(got*rl + i); math.Float32bits(v) != math.Float32bits(w) {
					t.Fatalf("row %d value %d: %v, want %v", got+i/rl, i%rl, v, w)
				}
			}
			got += n
		}
		if got != rows {
			t.Fatalf("read %d rows, header says %d", got, rows)
		}
		runtime.ReadMemStats(&ms)
		if alloc := ms.TotalAlloc - before; alloc > 8<<20+uint64(8*len(data)) {
			t.Fatalf("a %d-byte file made Open and Read allocate %d bytes", len(data), alloc)
		}
		// Skip to row k, then read it.
		k := int(skip) % (rows + 1)
		r2, err := Open(p)
		if err != nil {
			t.Fatalf("second open: %v", err)
		}
		defer r2.Close()
		if err := r2.Skip(k); err != nil {
			t.Fatalf("Skip(%d) of %d rows: %v", k, rows, err)
		}
		n, err := r2.Read(dst)
		if k == rows {
			if err != io.EOF {
				t.Fatalf("Read after skipping all %d rows: %d, %v", rows, n, err)
			}
			return
		}
		if err != nil || n < 1 {
			t.Fatalf("Read after Skip(%d): %d, %v", k, n, err)
		}
		for i := range rl {
			if w := ref(k*rl + i); math.Float32bits(dst[i]) != math.Float32bits(w) {
				t.Fatalf("after Skip(%d): value %d is %v, want %v", k, i, dst[i], w)
			}
		}
		if err := r2.Skip(rows); err == nil {
			t.Fatalf("Skip(%d) past the end accepted", rows)
		}
	})
}
