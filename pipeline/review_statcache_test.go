//go:build linux

package pipeline_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"coderflow/pipeline"
)

func ctimeOf(t *testing.T, p string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ctim.Nano()
}

// TestStatCacheSeesFileReplacedWithSameSizeAndMTime: a data file replaced
// by another of the same size whose mtime is set back to the old one (what
// `rsync -t`, `cp -p`, `tar x` or `touch -r` do) must be digested again:
// trusting path+size+mtime alone keeps the old digest, so the cache key
// stays and the stage's artifact, computed from the old content, is reused.
func TestStatCacheSeesFileReplacedWithSameSizeAndMTime(t *testing.T) {
	pretendFilesOld(t) // else the first digest is racy, not remembered, and the ctime is never compared
	dir := t.TempDir()
	p := filepath.Join(dir, "data.csv")
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.WriteFile(p, []byte("a,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	cache := pipeline.StatCachePath(filepath.Join(dir, "wd"))
	first := pipeline.NewDigester(cache)
	if _, err := first.Digest(p); err != nil {
		t.Fatal(err)
	}
	if err := first.Save(); err != nil {
		t.Fatal(err)
	}
	firstCtime := ctimeOf(t, p)

	// the replacement: same size, same mtime, other bytes, renamed over
	tmp := filepath.Join(dir, "incoming")
	if err := os.WriteFile(tmp, []byte("b,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ { // the kernel's clock tick: wait until the ctime moved on
		if err := os.Chtimes(tmp, old, old); err != nil {
			t.Fatal(err)
		}
		if ctimeOf(t, tmp) != firstCtime || i == 200 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("b,2\n"))
	want := hex.EncodeToString(sum[:])
	got, err := pipeline.NewDigester(cache).Digest(p)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("digest after the file was replaced = %s (the old content's), want %s", got[:12], want[:12])
	}
}
