package pipeline_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"coderflow/pipeline"
)

// pretendFilesOld makes the digesters of the rest of the test read a clock a
// day ahead, so that files the test just wrote count as old: the stat cache
// remembers only digests of files whose timestamp is safely older than the
// read (racy files are read again), and the tests that count reads are about
// unchanged old data.
func pretendFilesOld(tb testing.TB) {
	tb.Cleanup(pipeline.SetDigestClock(func() time.Time { return time.Now().Add(24 * time.Hour) }))
}

// TestStatCacheRoundTrip checks that a saved stat cache spares every
// content read in a fresh digester (also for paths with tabs and spaces),
// that a path with a newline is not persisted but still digested, and that
// damaged lines cost rereads of their files only.
func TestStatCacheRoundTrip(t *testing.T) {
	pretendFilesOld(t)
	dir := t.TempDir()
	names := []string{"plain.bin", "with space.bin", "with\ttab.bin", "with\nnewline.bin"}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		if err := os.WriteFile(filepath.Join(dir, "data", n), []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cache := pipeline.StatCachePath(filepath.Join(dir, "wd"))
	first := pipeline.NewDigester(cache)
	want, err := first.Digest(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	if first.Reads != len(names) {
		t.Fatalf("first digest read %d files, want %d", first.Reads, len(names))
	}
	if err := first.Save(); err != nil {
		t.Fatal(err)
	}
	again := pipeline.NewDigester(cache)
	if got, err := again.Digest(filepath.Join(dir, "data")); err != nil || got != want {
		t.Fatalf("digest from the saved cache = %q, %v; want %q", got, err, want)
	}
	if again.Reads != 1 { // only the path with a newline
		t.Errorf("fresh digester read %d files, want 1", again.Reads)
	}

	// damage: the line of plain.bin gets a bad size, and a garbage line
	// and a truncated one are appended: plain.bin is read again, the
	// others not
	b, err := os.ReadFile(cache)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("\t" + filepath.Join(dir, "data", "plain.bin") + "\n")
	i := bytes.Index(b, plain)
	if i < 0 {
		t.Fatalf("no line for plain.bin in\n%s", b)
	}
	start := bytes.LastIndexByte(b[:i], '\n') + 1
	b = slices.Concat(b[:start], []byte("nonsense\tx\t1"), b[i:], []byte("garbage line\n0123\t12\t"))
	if err := os.WriteFile(cache, b, 0o644); err != nil {
		t.Fatal(err)
	}
	damaged := pipeline.NewDigester(cache)
	if got, err := damaged.Digest(filepath.Join(dir, "data")); err != nil || got != want {
		t.Fatalf("digest with a damaged cache = %q, %v; want %q", got, err, want)
	}
	if damaged.Reads != 2 {
		t.Errorf("digester over a cache with damaged lines read %d files, want 2", damaged.Reads)
	}
	if err := os.WriteFile(cache, []byte("{\"old\": \"json\"}"), 0o644); err != nil {
		t.Fatal(err)
	}
	foreign := pipeline.NewDigester(cache)
	if got, err := foreign.Digest(filepath.Join(dir, "data")); err != nil || got != want || foreign.Reads != len(names) {
		t.Fatalf("digest over a foreign cache file = %q, %v, %d reads; want %q, %d reads", got, err, foreign.Reads, want, len(names))
	}
}

// TestTouchedArtifactIsRehashedOnce checks that artifact files whose mtime
// changed without their content (a workdir copied without keeping times)
// are rehashed through the stat cache: the first check reads each of them
// once and finds the stages cached, and later checks read nothing.
func TestTouchedArtifactIsRehashedOnce(t *testing.T) {
	pretendFilesOld(t)
	h := newHarness(t, diamond)
	res := h.run(pipeline.RunOptions{})
	later := time.Now().Add(time.Hour)
	touched := 0
	for _, a := range res.Artifacts {
		for _, f := range a.Manifest.Files {
			if err := os.Chtimes(a.Path(f.Path), later, later); err != nil {
				t.Fatal(err)
			}
			touched++
		}
	}
	for i, want := range []int{touched, 0} {
		dg := pipeline.NewDigester(pipeline.StatCachePath(h.workdir))
		states, err := h.load().States(dg)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if s.Status != pipeline.StatusCached {
				t.Fatalf("check %d: stage %s is %s (%s) after a touch", i, s.Stage, s.Status, s.Reason)
			}
		}
		if dg.Reads != want {
			t.Errorf("check %d read %d files, want %d", i, dg.Reads, want)
		}
		if err := dg.Save(); err != nil {
			t.Fatal(err)
		}
	}
}
