package extract

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type entry struct {
	name, body, link string
	kind             byte // 'f' file, 'd' dir, 's' symlink, 'h' hardlink
}

func writeTar(t *testing.T, p string, gz bool, entries []entry) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644}
		switch e.kind {
		case 'd':
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		case 's':
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.link
		case 'h':
			h.Typeflag, h.Linkname = tar.TypeLink, e.link
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.kind == 'f' || e.kind == 0 {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	data := buf.Bytes()
	if gz {
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		zw.Write(data)
		zw.Close()
		data = z.Bytes()
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeZip(t *testing.T, p string, entries []entry) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		switch e.kind {
		case 'd':
			h.SetMode(os.ModeDir | 0o755)
		case 's':
			h.SetMode(os.ModeSymlink | 0o777)
			e.body = e.link
		default:
			h.SetMode(0o644)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e.body))
	}
	zw.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// recorder is a Progress that remembers what it was told.
type recorder struct{ added, total int64 }

func (r *recorder) Add(n int64)          { r.added += n }
func (r *recorder) SetTotal(total int64) { r.total = total }

func TestExtractGood(t *testing.T) {
	t.Parallel()
	entries := []entry{
		{name: "top/", kind: 'd'},
		{name: "top/a.txt", body: "hello", kind: 'f'},
		{name: "top/sub/b.txt", body: "world", kind: 'f'},
		{name: "./top/c.txt", body: "dot", kind: 'f'},
		{name: "__MACOSX/top/._a.txt", body: "junk", kind: 'f'},
	}
	tarOnly := append(append([]entry{}, entries...),
		entry{name: "top/link", link: "a.txt", kind: 's'},
		entry{name: "top/hard", link: "top/a.txt", kind: 'h'})
	for _, tc := range []struct {
		format string
		make   func(p string)
		links  int
	}{
		{"zip", func(p string) { writeZip(t, p, append(entries, entry{name: "top/link", link: "a.txt", kind: 's'})) }, 1},
		{"tar", func(p string) { writeTar(t, p, false, tarOnly) }, 1},
		{"tar.gz", func(p string) { writeTar(t, p, true, tarOnly) }, 1},
	} {
		t.Run(tc.format, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			src := filepath.Join(dir, "archive.bin") // no telling extension
			tc.make(src)
			out := filepath.Join(dir, "out")
			prog := &recorder{}
			res, err := Archive(t.Context(), src, out, Limits{Progress: prog})
			if err != nil {
				t.Fatal(err)
			}
			if prog.added != res.Bytes || (tc.format == "zip" && prog.total != 13) {
				t.Errorf("progress: %d bytes reported (total %d), %d written", prog.added, prog.total, res.Bytes)
			}
			wantFiles := 4 // a.txt, b.txt, c.txt and the materialised hardlink
			if tc.format == "zip" {
				wantFiles = 3
			}
			if res.Format != tc.format || res.SkippedLinks != tc.links || res.SkippedJunk != 1 || res.Files != wantFiles {
				t.Fatalf("result %+v", res)
			}
			for name, want := range map[string]string{"top/a.txt": "hello", "top/sub/b.txt": "world", "top/c.txt": "dot"} {
				b, err := os.ReadFile(filepath.Join(out, name))
				if err != nil || string(b) != want {
					t.Errorf("%s: %q %v", name, b, err)
				}
			}
			if _, err := os.Stat(filepath.Join(out, "__MACOSX")); !os.IsNotExist(err) {
				t.Errorf("__MACOSX extracted")
			}
			if _, err := os.Lstat(filepath.Join(out, "top/link")); !os.IsNotExist(err) {
				t.Errorf("symlink was created")
			}
			if tc.format != "zip" {
				if b, _ := os.ReadFile(filepath.Join(out, "top/hard")); string(b) != "hello" {
					t.Errorf("hardlink not materialised: %q", b)
				}
			}
		})
	}
}

func TestExtractUnsafe(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		entries []entry
		zipToo  bool
	}{
		{"dotdot", []entry{{name: "../evil.txt", body: "x", kind: 'f'}}, true},
		{"inner dotdot", []entry{{name: "a/../../evil.txt", body: "x", kind: 'f'}}, true},
		{"absolute", []entry{{name: "/tmp/evil.txt", body: "x", kind: 'f'}}, true},
		{"backslash", []entry{{name: "..\\evil.txt", body: "x", kind: 'f'}}, true},
		{"symlink out", []entry{{name: "a/link", link: "../../etc/passwd", kind: 's'}}, true},
		{"symlink absolute", []entry{{name: "link", link: "/etc/passwd", kind: 's'}}, true},
		{"hardlink out", []entry{{name: "hard", link: "../outside", kind: 'h'}}, false},
		{"hardlink absolute", []entry{{name: "hard", link: "/etc/passwd", kind: 'h'}}, false},
		{"hardlink to missing", []entry{{name: "hard", link: "nothing", kind: 'h'}}, false},
	}
	for _, tc := range cases {
		formats := []string{"tar", "tar.gz"}
		if tc.zipToo {
			formats = append(formats, "zip")
		}
		for _, f := range formats {
			t.Run(tc.name+"/"+f, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				src := filepath.Join(dir, "a")
				switch f {
				case "zip":
					writeZip(t, src, tc.entries)
				default:
					writeTar(t, src, f == "tar.gz", tc.entries)
				}
				out := filepath.Join(dir, "deep", "out")
				_, err := Archive(t.Context(), src, out, Limits{})
				if !errors.Is(err, ErrUnsafePath) {
					t.Fatalf("err = %v, want ErrUnsafePath", err)
				}
				if _, err := os.Stat(filepath.Join(dir, "deep", "evil.txt")); err == nil {
					t.Fatal("file written outside")
				}
				if _, err := os.Stat(filepath.Join(dir, "evil.txt")); err == nil {
					t.Fatal("file written outside")
				}
			})
		}
	}
}

func TestExtractBomb(t *testing.T) {
	t.Parallel()
	zeros := string(make([]byte, 8<<20))
	for _, tc := range []struct {
		name string
		make func(t *testing.T, p string)
		lim  Limits
	}{
		{"tar.gz ratio", func(t *testing.T, p string) { writeTar(t, p, true, []entry{{name: "z", body: zeros, kind: 'f'}}) }, Limits{MaxRatio: 2}},
		{"zip ratio", func(t *testing.T, p string) { writeZip(t, p, []entry{{name: "z", body: zeros, kind: 'f'}}) }, Limits{MaxRatio: 2}},
		{"tar total bytes", func(t *testing.T, p string) {
			writeTar(t, p, false, []entry{{name: "a", body: zeros[:3<<20], kind: 'f'}, {name: "b", body: zeros[:3<<20], kind: 'f'}})
		}, Limits{MaxBytes: 5 << 20}},
		{"entry count", func(t *testing.T, p string) {
			writeTar(t, p, true, []entry{{name: "1", kind: 'f'}, {name: "2", kind: 'f'}, {name: "3", kind: 'f'}})
		}, Limits{MaxFiles: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			src := filepath.Join(dir, "bomb")
			tc.make(t, src)
			_, err := Archive(t.Context(), src, filepath.Join(dir, "out"), tc.lim)
			if !errors.Is(err, ErrBomb) {
				t.Fatalf("err = %v, want ErrBomb", err)
			}
		})
	}
}

func TestExtractNotAnArchive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "plain.txt")
	os.WriteFile(p, []byte("just text"), 0o644)
	if _, err := Archive(t.Context(), p, filepath.Join(dir, "out"), Limits{}); !errors.Is(err, ErrFormat) {
		t.Fatalf("err = %v", err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte("a,b,c\n"))
	zw.Close()
	g := filepath.Join(dir, "x.csv.gz")
	os.WriteFile(g, z.Bytes(), 0o644)
	if f, _ := Format(g); f != "gzip" {
		t.Fatalf("format %q, want gzip", f)
	}
}

// TestExtractTarGzTrailer damages the gzip trailer (CRC-32 and size) of a
// tar.gz whose tar data is intact: the archive is corrupt (gzip and GNU
// tar reject it) and extraction must say so, naming the archive.
func TestExtractTarGzTrailer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "x.tar.gz")
	writeTar(t, p, true, []entry{{name: "d/a.txt", body: strings.Repeat("a", 700)}, {name: "d/b.txt", body: "b"}})
	good, _ := os.ReadFile(p)
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 1; return b }
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"crc flipped", flip(len(good) - 8)},
		{"size flipped", flip(len(good) - 1)},
		{"trailer cut", good[:len(good)-4]},
		{"trailer gone", good[:len(good)-8]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := filepath.Join(t.TempDir(), "c.tar.gz")
			os.WriteFile(q, tc.data, 0o644)
			_, err := Archive(t.Context(), q, filepath.Join(t.TempDir(), "out"), Limits{})
			if err == nil || !strings.Contains(err.Error(), q) {
				t.Fatalf("err = %v, want an error naming %s", err, q)
			}
		})
	}
	// The intact archive, also with trailing zero padding after the gzip
	// stream (some tools add it; gzip ignores it), extracts.
	for _, data := range [][]byte{good, append(bytes.Clone(good), make([]byte, 512)...)} {
		q := filepath.Join(t.TempDir(), "ok.tar.gz")
		os.WriteFile(q, data, 0o644)
		if res, err := Archive(t.Context(), q, filepath.Join(t.TempDir(), "out"), Limits{}); err != nil || res.Files != 2 {
			t.Fatalf("intact archive: %+v %v", res, err)
		}
	}
}

// TestExtractCountsDirectories: directory entries count toward
// Limits.MaxFiles (a tiny archive of many directory entries is a bomb of
// inodes), and an archive of exactly MaxFiles entries is within the limit.
func TestExtractCountsDirectories(t *testing.T) {
	t.Parallel()
	var dirs []entry
	for i := range 10 {
		dirs = append(dirs, entry{name: fmt.Sprintf("d%d/", i), kind: 'd'})
	}
	exact := []entry{{name: "top/", kind: 'd'}, {name: "top/a.txt", body: "a", kind: 'f'}, {name: "top/b.txt", body: "b", kind: 'f'}}
	for _, f := range []string{"zip", "tar", "tar.gz"} {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			write := func(p string, entries []entry) {
				if f == "zip" {
					writeZip(t, p, entries)
				} else {
					writeTar(t, p, f == "tar.gz", entries)
				}
			}
			many := filepath.Join(dir, "dirs")
			write(many, dirs)
			if _, err := Archive(t.Context(), many, filepath.Join(dir, "out1"), Limits{MaxFiles: 5}); !errors.Is(err, ErrBomb) {
				t.Errorf("10 directory entries, MaxFiles 5: err = %v, want ErrBomb", err)
			}
			three := filepath.Join(dir, "three")
			write(three, exact)
			if res, err := Archive(t.Context(), three, filepath.Join(dir, "out2"), Limits{MaxFiles: 3}); err != nil || res.Files != 2 {
				t.Errorf("3 entries, MaxFiles 3: %+v %v, want success", res, err)
			}
			if _, err := Archive(t.Context(), three, filepath.Join(dir, "out3"), Limits{MaxFiles: 2}); !errors.Is(err, ErrBomb) {
				t.Errorf("3 entries, MaxFiles 2: err = %v, want ErrBomb", err)
			}
		})
	}
}

// TestExtractNothingThroughSymlink: a symlink already in the target
// directory (it may be reused) is never traversed, not even to create the
// directories above an entry: evil -> ../outside plus the entry
// evil/sub/f.txt fails without creating outside/sub.
func TestExtractNothingThroughSymlink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format string
		entry  entry
	}{
		{"zip", entry{name: "evil/sub/f.txt", body: "x", kind: 'f'}},
		{"tar", entry{name: "evil/sub/f.txt", body: "x", kind: 'f'}},
		{"tar.gz", entry{name: "evil/sub/deeper/", kind: 'd'}},
		{"zip", entry{name: "evil/sub/", kind: 'd'}},
		{"tar", entry{name: "ok/evil/sub/f.txt", body: "x", kind: 'f'}},
	} {
		t.Run(tc.format+"/"+tc.entry.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			outside := filepath.Join(dir, "outside")
			linkDir := out // where the symlink evil sits
			if strings.HasPrefix(tc.entry.name, "ok/") {
				linkDir = filepath.Join(out, "ok")
			}
			for _, d := range []string{linkDir, outside} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink(outside, filepath.Join(linkDir, "evil")); err != nil {
				t.Skipf("symlinks unsupported: %v", err)
			}
			src := filepath.Join(dir, "a")
			if tc.format == "zip" {
				writeZip(t, src, []entry{tc.entry})
			} else {
				writeTar(t, src, tc.format == "tar.gz", []entry{tc.entry})
			}
			if _, err := Archive(t.Context(), src, out, Limits{}); !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("err = %v, want ErrUnsafePath", err)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Fatalf("created %s under the symlink's target", ents[0].Name())
			}
		})
	}
}
