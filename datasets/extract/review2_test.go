package extract

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestExtractZipDuplicates: a zip with two files of one name is ambiguous
// (which one a tool keeps differs) and refused before anything is written;
// repeated directory entries are fine. A tar's later version of a file
// wins, as with tar, and is counted once.
func TestExtractZipDuplicates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		entries []entry
		dup     bool
	}{
		{"same name", []entry{{name: "a.txt", body: "first", kind: 'f'}, {name: "b.txt", body: "b", kind: 'f'}, {name: "a.txt", body: "second", kind: 'f'}}, true},
		{"same cleaned name", []entry{{name: "d/a.txt", body: "first", kind: 'f'}, {name: "d/./a.txt", body: "second", kind: 'f'}}, true},
		{"file and symlink", []entry{{name: "a.txt", body: "first", kind: 'f'}, {name: "a.txt", link: "b.txt", kind: 's'}}, true},
		{"directory twice", []entry{{name: "d/", kind: 'd'}, {name: "d/a.txt", body: "a", kind: 'f'}, {name: "d/", kind: 'd'}}, false},
		{"same file twice", []entry{{name: "d/a.txt", body: "same", kind: 'f'}, {name: "d/a.txt", body: "same", kind: 'f'}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			src := filepath.Join(dir, "a.zip")
			writeZip(t, src, tc.entries)
			out := filepath.Join(dir, "out")
			res, err := Archive(t.Context(), src, out, Limits{})
			if !tc.dup {
				if err != nil || res.Files != 1 {
					t.Fatalf("Files %d, err %v; want 1 file, no error", res.Files, err)
				}
				return
			}
			if !errors.Is(err, ErrDuplicate) {
				t.Fatalf("err = %v, want ErrDuplicate", err)
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Fatalf("%d entries written before the error", len(ents))
			}
		})
	}
	t.Run("tar: the last wins", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		src := filepath.Join(dir, "a.tar")
		writeTar(t, src, false, []entry{{name: "a.txt", body: "first", kind: 'f'}, {name: "a.txt", body: "second", kind: 'f'}})
		out := filepath.Join(dir, "out")
		res, err := Archive(t.Context(), src, out, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(out, "a.txt")); string(b) != "second" || res.Files != 1 {
			t.Fatalf("a.txt = %q, Files = %d; want \"second\", 1", b, res.Files)
		}
	})
}

// TestExtractZipTooManyEntries: a zip's entry count is known from its
// central directory, so one over Limits.MaxFiles is refused before any
// file is written, not after MaxFiles of them.
func TestExtractZipTooManyEntries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "a.zip")
	writeZip(t, src, []entry{{name: "1", kind: 'f'}, {name: "2", kind: 'f'}, {name: "3", kind: 'f'}})
	out := filepath.Join(dir, "out")
	_, err := Archive(t.Context(), src, out, Limits{MaxFiles: 2})
	if !errors.Is(err, ErrBomb) {
		t.Fatalf("err = %v, want ErrBomb", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Fatalf("%d files written before the error", len(ents))
	}
}

// TestExtractZipInsecurePathGodebug: with GODEBUG=zipinsecurepath=0 (which
// a user may set, and a future Go may default to) archive/zip itself
// refuses a zip with a "../" or absolute name; that refusal must still be
// an ErrUnsafePath, as the package promises, not a bare zip error.
func TestExtractZipInsecurePathGodebug(t *testing.T) {
	t.Setenv("GODEBUG", "zipinsecurepath=0")
	for _, name := range []string{"../evil.txt", "/tmp/evil.txt", "a/../../evil.txt"} {
		dir := t.TempDir()
		src := filepath.Join(dir, "a.zip")
		writeZip(t, src, []entry{{name: "ok.txt", body: "ok", kind: 'f'}, {name: name, body: "x", kind: 'f'}})
		if _, err := Archive(t.Context(), src, filepath.Join(dir, "out"), Limits{}); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("%s: err = %v, want ErrUnsafePath", name, err)
		}
	}
}

// TestExtractEntryNamedLikeTheArchive: a download is extracted into the
// directory that holds it; an entry of the archive's own name must not
// truncate the archive while it is read (a small tar then "extracted"
// fine with the archive replaced by the entry, which the download stage
// deleted as the archive: the entry silently lost).
func TestExtractEntryNamedLikeTheArchive(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"tar", "tar.gz", "zip"} {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			src := filepath.Join(dir, "data."+f)
			entries := []entry{{name: "a.txt", body: "a", kind: 'f'}, {name: "data." + f, body: "inner", kind: 'f'}}
			if f == "zip" {
				writeZip(t, src, entries)
			} else {
				writeTar(t, src, f == "tar.gz", entries)
			}
			before, _ := os.ReadFile(src)
			// the archive named through a symlinked directory: still itself
			link := filepath.Join(t.TempDir(), "link")
			if err := os.Symlink(dir, link); err != nil {
				t.Fatal(err)
			}
			_, err := Archive(t.Context(), filepath.Join(link, "data."+f), dir, Limits{})
			if !errors.Is(err, ErrUnsafePath) {
				t.Errorf("err = %v, want ErrUnsafePath", err)
			}
			if after, _ := os.ReadFile(src); string(after) != string(before) {
				t.Errorf("the archive was overwritten by its entry (%d bytes, was %d)", len(after), len(before))
			}
		})
	}
}

// TestExtractTarGzMembers: a tar.gz written as several gzip members (pigz,
// or parts concatenated with cat) is one stream, whose tar may cross
// member boundaries; zero padding or other bytes after the member that
// ends the tar are ignored, as gzip does; a damaged later member that
// still holds tar data is an error.
func TestExtractTarGzMembers(t *testing.T) {
	t.Parallel()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for i, body := range []string{strings.Repeat("a", 3000), strings.Repeat("b", 5000)} {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("f%d", i), Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	raw := tb.Bytes()
	member := func(b []byte) []byte {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(b)
		zw.Close()
		return z.Bytes()
	}
	// cut inside the second file's data, so it spans the two members
	two := append(member(raw[:4000]), member(raw[4000:])...)
	damaged := append(member(raw[:4000]), member(raw[4000:])...)
	damaged[len(damaged)-5] ^= 0xff // the second member's CRC
	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"two members", two, true},
		{"zero padding after", append(slices.Clone(two), make([]byte, 1024)...), true},
		{"garbage after", append(slices.Clone(two), []byte("trailing garbage")...), true},
		{"second member damaged", damaged, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			src := filepath.Join(dir, "a.tar.gz")
			os.WriteFile(src, tc.data, 0o644)
			out := filepath.Join(dir, "out")
			res, err := Archive(t.Context(), src, out, Limits{})
			if !tc.ok {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil || res.Format != "tar.gz" || res.Files != 2 {
				t.Fatalf("format %q, %d files, err %v", res.Format, res.Files, err)
			}
			if b, _ := os.ReadFile(filepath.Join(out, "f1")); string(b) != strings.Repeat("b", 5000) {
				t.Fatalf("f1 has %d bytes", len(b))
			}
		})
	}
}
