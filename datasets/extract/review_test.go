package extract

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestExtractHardlinkToItself extracts a tar whose second entry is a
// hardlink to the first under the same name (GNU tar writes one for a file
// of several links named twice): the file keeps its bytes; copying it onto
// itself truncated it to nothing.
func TestExtractHardlinkToItself(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		src := filepath.Join(dir, "a.tar")
		writeTar(t, src, gz, []entry{
			{name: "d/a.txt", body: "hello"},
			{name: "d/a.txt", kind: 'h', link: "d/a.txt"},
			{name: "d/b.txt", kind: 'h', link: "d/./a.txt"},
		})
		out := filepath.Join(dir, "out")
		if _, err := Archive(t.Context(), src, out, Limits{}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"d/a.txt", "d/b.txt"} {
			if b, err := os.ReadFile(filepath.Join(out, name)); err != nil || string(b) != "hello" {
				t.Fatalf("gzip %v: %s holds %q, %v; want \"hello\"", gz, name, b, err)
			}
		}
	}
}

// TestExtractTarWithoutEndMarker extracts tars cut at an entry boundary
// (no end-of-archive blocks, as a cut download of a tar ends 1 time in
// 512 and every time at a MiB boundary): an error, not a silent partial
// extraction. A tar with one zero block (some writers) still extracts.
func TestExtractTarWithoutEndMarker(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range []struct{ name, body string }{{"a.txt", "first"}, {"b.txt", "second"}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	whole := buf.Bytes()
	// Entries: header 512 + data padded to 512 each; then 1024 zero bytes
	// (and padding to the 10 KiB record for some writers).
	for _, tc := range []struct {
		name  string
		data  []byte
		files int
		ok    bool
	}{
		{"whole", whole, 2, true},
		{"one zero block", whole[:2048+512], 2, true},
		{"cut after the first entry", whole[:1024], 1, false},
		{"cut after the second entry", whole[:2048], 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "a.tar")
			if err := os.WriteFile(src, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := Archive(t.Context(), src, filepath.Join(dir, "out"), Limits{})
			if tc.ok {
				if err != nil || res.Files != tc.files {
					t.Fatalf("%d files, %v; want %d files", res.Files, err, tc.files)
				}
				return
			}
			if err == nil || errors.Is(err, ErrUnsafePath) || !bytes.Contains([]byte(err.Error()), []byte(src)) {
				t.Fatalf("%d files, error %v; want an error naming %s (cut archive)", res.Files, err, src)
			}
		})
	}
}
