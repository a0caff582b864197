package arrowfeat_test

import (
	"testing"

	"github.com/apache/arrow/go/v15/arrow/memory"

	"coderflow/datasets/arrowfeat"
)

// TestReaderCloseWhileDecoding closes readers while their decoders are busy
// with the row group being forwarded: a batch a decoder hands over after
// Close began must be released too (with a checked allocator, a leak).
func TestReaderCloseWhileDecoding(t *testing.T) {
	files := writeShards(t, t.TempDir(), []int{400}, 2, 4, 400)
	for i := range 300 {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		r, err := arrowfeat.NewReader(mem, files, arrowfeat.Options{BatchRows: 1, Workers: 1 + i%2})
		if err != nil {
			t.Fatal(err)
		}
		for range 1 + i%3 {
			rec, err := r.Next(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			rec.Release()
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if n := mem.CurrentAlloc(); n != 0 {
			t.Fatalf("iteration %d: %d bytes still allocated after Close", i, n)
		}
	}
}
