package extract

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzArchive extracts arbitrary bytes with small limits and checks the
// contract, not only the absence of a panic:
//   - nothing is written outside the target directory, and nothing but
//     regular files and directories inside it (no links);
//   - the bytes written stay within Limits.MaxBytes, on success and on
//     error (a bomb's partial file is removed);
//   - every error names the archive;
//   - on success the files on disk are exactly the regular files of the
//     archive as archive/tar or archive/zip read it (the last of a name
//     for a tar, hardlinks as copies, __MACOSX skipped), byte for byte,
//     and Result.Files counts them.
//
// Seeds: testdata/small.{zip,tar,tar.gz}.
func FuzzArchive(f *testing.F) {
	for _, name := range []string{"small.zip", "small.tar", "small.tar.gz"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	const maxBytes = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		src := filepath.Join(root, "a.bin")
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(root, "out")
		res, err := Archive(t.Context(), src, out, Limits{MaxBytes: maxBytes, MaxFiles: 64})
		// Nothing outside out/ but the archive, untouched.
		ents, rerr := os.ReadDir(root)
		if rerr != nil {
			t.Fatal(rerr)
		}
		for _, e := range ents {
			if e.Name() != "a.bin" && e.Name() != "out" {
				t.Fatalf("%s written outside the target directory", e.Name())
			}
		}
		if b, _ := os.ReadFile(src); !bytes.Equal(b, data) {
			t.Fatalf("the archive was modified")
		}
		disk := map[string][]byte{}
		var total int64
		werr := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch {
			case d.Type().IsDir():
			case d.Type().IsRegular():
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(out, p)
				disk[filepath.ToSlash(rel)] = b
				total += int64(len(b))
			default:
				t.Fatalf("%s is a %v, not a regular file or directory", p, d.Type())
			}
			return nil
		})
		if werr != nil {
			t.Fatal(werr)
		}
		if total > maxBytes {
			t.Fatalf("%d bytes written, limit %d (err %v)", total, maxBytes, err)
		}
		if err != nil {
			if !strings.Contains(err.Error(), src) {
				t.Fatalf("error %q does not name the archive", err)
			}
			return
		}
		if res.Bytes > maxBytes || total > res.Bytes || res.Files != len(disk) {
			t.Fatalf("result %+v, but %d files of %d bytes on disk", res, len(disk), total)
		}
		want, ok := reference(t, res.Format, data)
		if !ok {
			t.Fatalf("extracted as %s, but the reference reader fails on it", res.Format)
		}
		if len(want) != len(disk) {
			t.Fatalf("%d files on disk, the archive has %d regular files: %q vs %q", len(disk), len(want), keys(disk), keys(want))
		}
		for name, b := range want {
			if got, ok := disk[name]; !ok || !bytes.Equal(got, b) {
				t.Fatalf("file %q: on disk %q (present %v), in the archive %q", name, got, ok, b)
			}
		}
	})
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// reference reads the regular files of an archive with the standard
// library alone: name (cleaned) to content.
func reference(t *testing.T, format string, data []byte) (map[string][]byte, bool) {
	files := map[string][]byte{}
	junk := func(n string) bool { return n == "__MACOSX" || strings.HasPrefix(n, "__MACOSX/") }
	switch format {
	case "zip":
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, false
		}
		for _, f := range zr.File {
			name := path.Clean(f.Name)
			if junk(name) || !f.Mode().IsRegular() || strings.HasSuffix(f.Name, "/") {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return nil, false
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, false
			}
			if _, dup := files[name]; !dup {
				files[name] = b
			}
		}
	case "tar", "tar.gz":
		var r io.Reader = bytes.NewReader(data)
		if format == "tar.gz" {
			zr, err := gzip.NewReader(r)
			if err != nil {
				return nil, false
			}
			r = zr
		}
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, false
			}
			name := path.Clean(h.Name)
			if junk(name) {
				continue
			}
			switch h.Typeflag {
			case tar.TypeReg, tar.TypeRegA:
				b, err := io.ReadAll(tr)
				if err != nil {
					return nil, false
				}
				files[name] = b
			case tar.TypeLink:
				b, ok := files[path.Clean(h.Linkname)]
				if !ok {
					return nil, false
				}
				files[name] = b
			}
		}
	default:
		t.Fatalf("success with format %q", format)
	}
	return files, true
}
