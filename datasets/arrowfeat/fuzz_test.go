package arrowfeat_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/memory"

	"coderflow/datasets/arrowfeat"
)

// FuzzReader reads arbitrary bytes as a feature shard, with the Reader
// and with ImageIDs. Whatever the bytes:
//   - every read ends in io.EOF or an error naming the file (arrow-go
//     panics on some damaged files; a panic on one of its goroutines would
//     end the process);
//   - every batch handed out is released and Close leaves nothing
//     allocated (a checked allocator);
//   - memory stays bounded for a small file (footer and page headers can
//     claim any sizes);
//   - when both succeed, the Reader's image ids are those ImageIDs reads.
//
// Seed: testdata/small.parquet (6 rows in 2 row groups, written by
// table.WriteFile).
func FuzzReader(f *testing.F) {
	addSeed(f, "small.parquet")
	f.Fuzz(func(t *testing.T, data []byte) {
		p, before := fuzzFile(t, data)

		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		var ids []int64
		var rerr error
		r, err := arrowfeat.NewReader(mem, []string{p}, arrowfeat.Options{Workers: 1, BatchRows: 4})
		if err != nil {
			rerr = err
		} else {
			for {
				rec, err := r.Next(t.Context())
				if err != nil {
					if !errors.Is(err, io.EOF) {
						rerr = err
					}
					break
				}
				if v, err := arrowfeat.NewView(rec); err == nil {
					ids = append(ids, v.IDs...)
				} else {
					ids = append(ids, rec.Column(0).(interface{ Int64Values() []int64 }).Int64Values()...)
				}
				rec.Release()
			}
			r.Close()
		}
		if rerr != nil && !strings.Contains(rerr.Error(), p) {
			t.Fatalf("reader error does not name the file: %v", rerr)
		}
		mem.AssertSize(t, 0)

		var ids2 []int64
		ierr := arrowfeat.ImageIDs(t.Context(), []string{p}, func(id int64) error { ids2 = append(ids2, id); return nil })
		if ierr != nil && !strings.Contains(ierr.Error(), p) {
			t.Fatalf("ImageIDs error does not name the file: %v", ierr)
		}
		if rerr == nil && ierr == nil && !slices.Equal(ids, ids2) {
			t.Fatalf("the reader reads ids %v, ImageIDs %v", ids, ids2)
		}
		checkAlloc(t, before, len(data))
	})
}

// FuzzTokensReader reads arbitrary bytes as a tokens shard with a Tokens
// reader (the train stage's caption loader). Whatever the bytes, every read
// ends in io.EOF or an error naming the file, every batch that comes out
// has the tokens columns (NewTokensView accepts it), and memory stays
// bounded for a small file.
//
// Seed: testdata/tokens.parquet (6 rows in 2 row groups, written by
// table.WriteFile). No checked allocator: arrow-go v15's delta bit-pack
// decoder, which the split strings' lengths use, never returns a 64-byte
// buffer per row group (TestTokensReader).
func FuzzTokensReader(f *testing.F) {
	addSeed(f, "tokens.parquet")
	f.Fuzz(func(t *testing.T, data []byte) {
		p, before := fuzzFile(t, data)
		r, err := arrowfeat.NewTableReader(nil, arrowfeat.Tokens, []string{p}, arrowfeat.Options{Workers: 1, BatchRows: 4})
		if err == nil {
			for {
				rec, rerr := r.Next(t.Context())
				if rerr != nil {
					if !errors.Is(rerr, io.EOF) {
						err = rerr
					}
					break
				}
				v, verr := arrowfeat.NewTokensView(rec)
				if verr != nil {
					t.Fatalf("a batch the reader handed out is not a tokens batch: %v", verr)
				}
				for i := range v.Len() {
					_, _ = v.Split(i), v.IDs(i)
				}
				rec.Release()
			}
			r.Close()
		}
		if err != nil && !strings.Contains(err.Error(), p) {
			t.Fatalf("reader error does not name the file: %v", err)
		}
		checkAlloc(t, before, len(data))
	})
}

// addSeed adds testdata/name to f's seed corpus.
func addSeed(f *testing.F, name string) {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
}

// fuzzFile writes data to a file of its own and returns its path and the
// bytes allocated so far (runtime.MemStats.TotalAlloc), against which the
// target bounds what reading it allocates.
func fuzzFile(t *testing.T, data []byte) (string, uint64) {
	p := filepath.Join(t.TempDir(), "f.parquet")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return p, ms.TotalAlloc
}

// checkAlloc fails t when reading a file of size bytes allocated more than
// 64 MiB since before (fuzzFile).
func checkAlloc(t *testing.T, before uint64, size int) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if alloc := ms.TotalAlloc - before; alloc > 64<<20 {
		t.Fatalf("a %d-byte file made the readers allocate %d MiB", size, alloc>>20)
	}
}
