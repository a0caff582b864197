package pipeline

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestGCDropsStatEntriesOfDeletedFiles: gc drops the stat-cache entries of
// files that no longer exist (--dry-run only counts them), so the cache
// does not grow with every file ever digested; entries of existing files
// stay.
func TestGCDropsStatEntriesOfDeletedFiles(t *testing.T) {
	workdir := t.TempDir()
	data := t.TempDir()
	keep, gone := filepath.Join(data, "keep.txt"), filepath.Join(data, "gone.txt")
	for _, p := range []string{keep, gone} {
		if err := os.WriteFile(p, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dg := NewDigester(StatCachePath(workdir))
	dg.now = func() time.Time { return time.Now().Add(24 * time.Hour) } // the files count as old: their digests are kept
	for _, p := range []string{keep, gone} {
		if _, err := dg.Digest(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := dg.Save(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	entries := func() map[string]statEntry {
		b, err := os.ReadFile(StatCachePath(workdir))
		if err != nil {
			t.Fatal(err)
		}
		return parseStatCache(b)
	}

	st, err := GC(workdir, nil, GCOptions{DryRun: true})
	if err != nil || st.StatEntries != 1 {
		t.Fatalf("dry run: %d entries to drop, %v; want 1", st.StatEntries, err)
	}
	if len(entries()) != 2 {
		t.Fatal("dry run changed the stat cache")
	}
	st, err = GC(workdir, nil, GCOptions{})
	if err != nil || st.StatEntries != 1 {
		t.Fatalf("gc: %d entries dropped, %v; want 1", st.StatEntries, err)
	}
	e := entries()
	if _, ok := e[keep]; !ok || len(e) != 1 {
		t.Fatalf("stat cache after gc: %v, want only %s", e, keep)
	}
}
