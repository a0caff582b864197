package npy

import (
	"encoding/binary"
	"strings"
	"testing"
)

// TestReadLongHeader: a version 2 header longer than 64 KiB (its length
// is a uint32; numpy writes one for large structured dtypes, or pads) is
// read, and the data found right after it.
func TestReadLongHeader(t *testing.T) {
	t.Parallel()
	vals := []float32{1, 2, 3, 4, 5, 6}
	for _, n := range []int{70_000, 200_000} {
		dict := "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }" + strings.Repeat(" ", n)
		p := writeTemp(t, build(2, dict, f32(binary.LittleEndian, vals...)))
		got, h, err := readAll(t, p, 4)
		if err != nil {
			t.Fatal(err)
		}
		if h.DataOffset < int64(n) || !equal(got, vals) {
			t.Fatalf("header of %d bytes: data offset %d, values %v", n, h.DataOffset, got)
		}
	}
}
