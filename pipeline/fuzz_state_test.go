package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// noHang runs fn and fails the test if it has not returned after a
// minute: reading a FIFO blocks until something writes to it.
func noHang(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("%s hung on a FIFO", what)
	}
}

// TestStateFilesNotRegular: a FIFO (or a directory) where the workdir
// keeps a manifest, a run record, the stat cache or a shard marker is
// reported or skipped as the damaged file it is, naming it; reading it
// used to block status, run and gc forever, and a directory named like a
// run record made gc fail.
func TestStateFilesNotRegular(t *testing.T) {
	workdir := t.TempDir()
	fifo := func(p string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
	}
	art := ArtifactDir(workdir, "k", fuzzKey)
	fifo(filepath.Join(art, ManifestName))
	runFifo := filepath.Join(runsDir(workdir, "wf"), fuzzNewRun+".json")
	fifo(runFifo)
	runDir := filepath.Join(runsDir(workdir, "wf"), fuzzOldRun+".json")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	fifo(StatCachePath(workdir))
	wd := workDir(workdir, "k", fuzzKey)
	fifo(shardMarker(wd, "s0"))

	noHang(t, "verifyArtifact", func() {
		_, err := verifyArtifact(t.Context(), art, fuzzKey, nil)
		if err == nil || errors.Is(err, errNotCached) || !strings.Contains(err.Error(), filepath.Join(art, ManifestName)) {
			t.Errorf("manifest FIFO: %v, want an error naming it", err)
		}
	})
	noHang(t, "ListRuns", func() {
		_, err := ListRuns(workdir, "wf")
		var bad *UnreadableRunsError
		if !errors.As(err, &bad) || len(bad.Files) != 2 {
			t.Errorf("ListRuns: %v, want both records named unreadable", err)
		}
	})
	noHang(t, "markKilledRuns", func() {
		if err := markKilledRuns(workdir); err != nil {
			t.Errorf("markKilledRuns: %v", err)
		}
	})
	noHang(t, "NewDigester", func() {
		if d := NewDigester(StatCachePath(workdir)); len(d.cache) != 0 {
			t.Errorf("stat cache from a FIFO: %v", d.cache)
		}
	})
	noHang(t, "shardDone", func() {
		if shardDone(wd, "s0") || len(committedShards(wd)) != 0 {
			t.Error("a FIFO marker counts as a committed shard")
		}
	})
	noHang(t, "GC", func() {
		st, err := GC(workdir, nil, GCOptions{DryRun: true})
		if err != nil || len(st.Unreadable) != 2 {
			t.Errorf("GC: %v (unreadable %q), want both records named unreadable", err, st.Unreadable)
		}
	})
}
