package atomicfile

import (
	"bytes"
	"os"
	"path/filepath"
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
