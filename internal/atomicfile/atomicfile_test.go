package atomicfile

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestCommitAndAbort checks that the target appears only on Commit, with
// every byte written (also when StartWriteback ran between the writes and
// after Commit), and that Abort leaves neither target nor temporary.
func TestCommitAndAbort(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "sub", "f.bin")
	f, err := Create(target)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := range 5 {
		chunk := bytes.Repeat([]byte{byte('a' + i)}, 100_000+i)
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
		want = append(want, chunk...)
		f.StartWriteback()
		if i == 2 {
			f.StartWriteback() // nothing new: a no-op
		}
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Fatalf("target visible before Commit: %v", err)
		}
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.StartWriteback() // after Commit: a no-op
	f.Abort()          // after Commit: a no-op
	got, err := os.ReadFile(target)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(want))
	}

	g, err := Create(filepath.Join(dir, "g.bin"))
	if err != nil {
		t.Fatal(err)
	}
	g.Write([]byte("partial"))
	g.StartWriteback()
	g.Abort()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "sub" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("after Abort the directory holds %v, want only sub", names)
	}
}

// TestSyncTree: SyncTree and SyncDir succeed on a tree of plain files and
// report a missing directory (what they make durable cannot be observed
// without pulling the power).
func TestSyncTree(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a", "b", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := SyncTree(dir); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(filepath.Join(dir, "a")); err != nil {
		t.Fatal(err)
	}
	if SyncTree(filepath.Join(dir, "missing")) == nil || SyncDir(filepath.Join(dir, "missing")) == nil {
		t.Error("a missing directory: want an error")
	}
}

// TestCommitSyncsDirectory: Commit (also WriteFile's) syncs the target's
// directory after the rename, so that the rename survives a power loss; a
// failing directory sync is reported (the file is in place), one the file
// system does not support (EINVAL) is not.
func TestCommitSyncsDirectory(t *testing.T) {
	writers := []struct {
		name  string
		write func(path string) error
	}{
		{"Create+Commit", func(path string) error {
			f, err := Create(path)
			if err != nil {
				return err
			}
			defer f.Abort()
			if _, err := f.WriteString("data"); err != nil {
				return err
			}
			return f.Commit()
		}},
		{"WriteFile", func(path string) error { return WriteFile(path, []byte("data"), 0o644) }},
	}
	syncErrs := []struct {
		name    string
		err     error
		wantErr bool
	}{
		{"sync ok", nil, false},
		{"sync fails", syscall.EIO, true},
		{"sync unsupported", syscall.EINVAL, false},
	}
	for _, w := range writers {
		for _, se := range syncErrs {
			t.Run(w.name+"/"+se.name, func(t *testing.T) {
				target := filepath.Join(t.TempDir(), "f.json") // an existing directory: only the rename is synced
				var synced []string
				old := syncParent
				defer func() { syncParent = old }()
				syncParent = func(dir string) error {
					if _, err := os.Stat(target); err != nil {
						t.Errorf("directory synced before the rename: %v", err)
					}
					synced = append(synced, dir)
					return se.err
				}
				err := w.write(target)
				if (err != nil) != se.wantErr {
					t.Errorf("error %v, want error: %v", err, se.wantErr)
				}
				if want := filepath.Dir(target); len(synced) != 1 || synced[0] != want {
					t.Errorf("synced directories %q, want [%q]", synced, want)
				}
				if b, err := os.ReadFile(target); err != nil || string(b) != "data" {
					t.Errorf("target holds %q (%v), want data", b, err)
				}
			})
		}
	}
}

// TestLongName: a target whose name is valid but near the file-name limit
// (255 bytes) is written: the temporary name, "." + name + ".tmp-" +
// random, is shortened (at a UTF-8 boundary) instead of failing with
// ENAMETOOLONG, and nothing is left beside the target.
func TestLongName(t *testing.T) {
	for _, tc := range []struct{ label, name string }{
		{"200 bytes", strings.Repeat("a", 200)},
		{"236 bytes", strings.Repeat("b", 236)},
		{"240 bytes", strings.Repeat("c", 240)},
		{"255 bytes", strings.Repeat("d", 255)},
		{"255 bytes of 2-byte runes", strings.Repeat("é", 127) + "x"},
	} {
		name := tc.name
		t.Run(tc.label, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, name)
			if err := WriteFile(target, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) != 1 || ents[0].Name() != name {
				t.Errorf("directory holds %d entries, want only the target", len(ents))
			}
		})
	}
}

// TestSymlinkTarget: committing to a path that is a symbolic link replaces
// the link with the new file; the file the link pointed to is untouched
// (an artifact that links to a user's data never overwrites that data).
func TestSymlinkTarget(t *testing.T) {
	dir := t.TempDir()
	orig := filepath.Join(dir, "user-data.txt")
	if err := os.WriteFile(orig, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "out", "link.txt")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(orig, link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	if err := WriteFile(link, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || !st.Mode().IsRegular() {
		t.Errorf("after WriteFile the path is %v (%v), want a regular file", st.Mode(), err)
	}
	for path, want := range map[string]string{link: "new", orig: "original"} {
		if b, err := os.ReadFile(path); err != nil || string(b) != want {
			t.Errorf("%s holds %q (%v), want %q", path, b, err, want)
		}
	}
}

// TestNewDirectoriesSynced: the directories Create makes for a target are
// durable too: the parent of each new one is synced (else a power loss can
// drop the new directory's entry, and the committed file with it), then
// the target's directory after the rename; existing directories are not
// synced again.
func TestNewDirectoriesSynced(t *testing.T) {
	base := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		target string
		want   []string
	}{
		{"existing directory", "old/f", []string{"old"}},
		{"one new directory", "old/new/f", []string{"old", "old/new"}},
		{"two new directories", "a/b/f", []string{".", "a", "a/b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var synced []string
			old := syncParent
			defer func() { syncParent = old }()
			syncParent = func(dir string) error {
				rel, err := filepath.Rel(base, dir)
				if err != nil {
					t.Error(err)
				}
				synced = append(synced, filepath.ToSlash(rel))
				return nil
			}
			if err := WriteFile(filepath.Join(base, tc.target), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			slices.Sort(synced)
			if !slices.Equal(synced, tc.want) {
				t.Errorf("synced %q, want %q", synced, tc.want)
			}
		})
	}
}

// TestIsTemp: the names Create gives its temporary files are temps, for
// short and cut target names; other names with ".tmp-" in them are not.
func TestIsTemp(t *testing.T) {
	dir := t.TempDir()
	for _, target := range []string{"x", "part-00000.parquet", strings.Repeat("é", 120) + ".bin"} {
		f, err := Create(filepath.Join(dir, target))
		if err != nil {
			t.Fatal(err)
		}
		if name := filepath.Base(f.Name()); !IsTemp(name) {
			t.Errorf("IsTemp(%q) = false for a temporary file of Create", name)
		}
		f.Abort()
	}
	for _, name := range []string{"notes.tmp-2019.csv", ".notes.tmp-2019.csv", "x.tmp-abc", ".x.tmp-", ".x.tmp-ABC", ".x.tmp-12345678901234", ".tmp-abc"} {
		if IsTemp(name) {
			t.Errorf("IsTemp(%q) = true", name)
		}
	}
}
