package extract

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExtractTarCutAfterZeroData: a tar cut right after an entry whose
// data ends in 512 or more zero bytes (a .npy of zero features, a sparse
// disk image: common in data sets) passed as whole, because the zero bytes
// of the data were counted as the end-of-archive block. The archive is
// refused as cut short, plain and gzipped; with its end marker it is read.
func TestExtractTarCutAfterZeroData(t *testing.T) {
	t.Parallel()
	for _, size := range []int{512, 700, 1024, 5000} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(&tar.Header{Name: "a.txt", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte("hi"))
		if err := tw.WriteHeader(&tar.Header{Name: "zeros.bin", Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(make([]byte, size))
		tw.Flush() // the entry padded to its block: here a cut download may end
		cut := append([]byte(nil), buf.Bytes()...)
		tw.Close()
		whole := buf.Bytes()
		for _, gz := range []bool{false, true} {
			for _, tc := range []struct {
				data []byte
				ok   bool
			}{{whole, true}, {cut, false}} {
				data := tc.data
				if gz {
					var z bytes.Buffer
					zw := gzip.NewWriter(&z)
					zw.Write(data)
					zw.Close()
					data = z.Bytes()
				}
				dir := t.TempDir()
				src := filepath.Join(dir, "a.tar")
				if err := os.WriteFile(src, data, 0o644); err != nil {
					t.Fatal(err)
				}
				res, err := Archive(t.Context(), src, filepath.Join(dir, "out"), Limits{})
				switch {
				case tc.ok && (err != nil || res.Files != 2):
					t.Errorf("%d zero bytes, gzip %v, whole: %d files, %v", size, gz, res.Files, err)
				case !tc.ok && (err == nil || !strings.Contains(err.Error(), "cut short") || !strings.Contains(err.Error(), src)):
					t.Errorf("%d zero bytes, gzip %v, cut after the entry: %d files, err %v; want a cut-short error naming %s", size, gz, res.Files, err, src)
				}
			}
		}
	}
}

// TestExtractErrorsNameEntry: an entry that cannot be created (a name
// element too long for the file system) failed with the bare os error, and
// one below a file that an earlier entry made named the archive but not
// the entry; the contract says errors name the archive and the entry.
func TestExtractErrorsNameEntry(t *testing.T) {
	t.Parallel()
	long := "d/" + strings.Repeat("x", 300) + ".txt"
	for _, entries := range [][]entry{
		{{name: long, body: "x"}},
		{{name: "d", body: "a file"}, {name: "d/x.txt", body: "x"}},
	} {
		dir := t.TempDir()
		src := filepath.Join(dir, "a.tar")
		writeTar(t, src, false, entries)
		name := entries[len(entries)-1].name
		_, err := Archive(t.Context(), src, filepath.Join(dir, "out"), Limits{})
		if err == nil || !strings.HasPrefix(err.Error(), "extract "+src+": entry ") || !strings.Contains(err.Error(), `"`+name+`"`) || errors.Is(err, ErrUnsafePath) {
			t.Errorf("err = %v; want one naming %s and entry %q", err, src, name)
		}
	}
}
