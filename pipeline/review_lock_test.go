package pipeline_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"coderflow/pipeline"
)

// TestLockHolderOnAnotherHost: on a workdir shared between machines (NFS),
// the lock may be held by a process of another host. Its pid means nothing
// here, so the waiting run must not call it "no longer running" (which
// reads as a stale lock to delete) just because no local process has it.
func TestLockHolderOnAnotherHost(t *testing.T) {
	wd := t.TempDir()
	held, err := pipeline.AcquireLock(t.Context(), wd, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	// pid_max is at most 2^22 on Linux: no local process has this pid
	const other = "pid 4194999 on some-other-host.example since 2026-01-01T00:00:00Z\n"
	if err := os.WriteFile(filepath.Join(wd, "lock"), []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	// with timeout 0 there is no wait (onWait is not called): the error
	// names the holder
	_, err = pipeline.AcquireLock(t.Context(), wd, 0, nil)
	if err == nil {
		t.Fatal("a second lock was granted while the first is held")
	}
	if holder := err.Error(); !strings.Contains(holder, "some-other-host") || strings.Contains(holder, "no longer running") {
		t.Fatalf("error = %q; want the other host's line without a local liveness verdict", holder)
	}

	// the same line naming this host and a dead pid is still reported so
	host, _ := os.Hostname()
	local := "pid 4194999 on " + host + " since 2026-01-01T00:00:00Z\n"
	if err := os.WriteFile(filepath.Join(wd, "lock"), []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	var holder string
	_, _ = pipeline.AcquireLock(t.Context(), wd, time.Millisecond, func(h string) { holder = h })
	if !strings.Contains(holder, "no longer running") {
		t.Fatalf("holder = %q; want a dead local pid reported as no longer running", holder)
	}
}
