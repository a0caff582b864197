package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"coderflow/pipeline"
)

// TestGCDryRunWritesNothing: gc --dry-run creates neither the workdir nor
// its lock file.
func TestGCDryRunWritesNothing(t *testing.T) {
	dir := t.TempDir()
	wf := filepath.Join(dir, "mini.yaml")
	os.WriteFile(wf, []byte(miniWF), 0o644)
	wd := filepath.Join(dir, "wd")
	code, out := cli(t, "gc", wf, "--workdir", wd, "--dry-run")
	if code != 0 || !strings.Contains(out, "would delete 0 artifacts") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if _, err := os.Stat(wd); !os.IsNotExist(err) {
		t.Errorf("gc --dry-run created %s (stat: %v)", wd, err)
	}
}

// TestGCLock: next to a run holding the workdir lock, gc --dry-run reports
// at once and gc waits up to --lock-timeout (it failed at once, "waited 0s").
func TestGCLock(t *testing.T) {
	wf, wdFlag, wd := runMini(t)
	lock, err := pipeline.AcquireLock(t.Context(), wd, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()

	// the dry run says that a run is going on: the running job's work
	// directories look unused to it
	if code, out := cli(t, "gc", wf, wdFlag, "--dry-run"); code != 0 || !strings.Contains(out, "would delete 0 artifacts") ||
		!strings.Contains(out, "a run holds the workdir lock (pid ") {
		t.Errorf("gc --dry-run next to a run: exit %d\n%s", code, out)
	}
	if code, out := cli(t, "gc", wf, wdFlag, "--lock-timeout", "200ms"); code != exitFailed || !strings.Contains(out, "waited 200ms") {
		t.Errorf("gc --lock-timeout 200ms: exit %d (want 1)\n%s", code, out)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(300 * time.Millisecond)
		lock.Release()
		close(released)
	}()
	code, out := cli(t, "gc", wf, wdFlag, "--lock-timeout", "1m")
	<-released
	if code != 0 || !strings.Contains(out, "waiting for the workdir lock") || !strings.Contains(out, "deleted 0 artifacts") {
		t.Errorf("gc waiting for the lock: exit %d\n%s", code, out)
	}
	if code, out := cli(t, "gc", wf, wdFlag, "--dry-run"); code != 0 || strings.Contains(out, "holds the workdir lock") {
		t.Errorf("gc --dry-run with no run going on: exit %d\n%s", code, out)
	}
}

// TestGCListsWhatItDeletes: gc --dry-run names every artifact it would
// delete (kind, key, size, path), deletes none of them, and gc then deletes
// exactly those and lists them the same way.
func TestGCListsWhatItDeletes(t *testing.T) {
	// three runs with other tokenize params: with --keep-runs 1 the
	// second run's tokens artifact is neither protected by the last run
	// nor used by the workflow as written
	wf, wdFlag, wd := runMini(t, []string{"--set", "tokens.min_count=2"}, []string{"--set", "tokens.min_count=3"})
	old, _ := filepath.Glob(filepath.Join(wd, "cache", "tokenize", "*"))
	if len(old) != 3 {
		t.Fatalf("want 3 tokenize artifacts, found %v", old)
	}
	code, out := cli(t, "gc", wf, wdFlag, "--keep-runs", "1", "--dry-run")
	if code != 0 || !strings.Contains(out, "would delete 1 artifacts") {
		t.Fatalf("gc --dry-run: exit %d\n%s", code, out)
	}
	var listed string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "would delete artifact tokenize/") {
			listed = line[strings.LastIndex(line, ": ")+2:]
		}
	}
	if listed == "" {
		t.Fatalf("gc --dry-run does not list the artifact:\n%s", out)
	}
	if _, err := os.Stat(listed); err != nil {
		t.Fatalf("gc --dry-run deleted or misnamed %s: %v", listed, err)
	}
	code, out = cli(t, "gc", wf, wdFlag, "--keep-runs", "1")
	if code != 0 || !strings.Contains(out, "deleted artifact tokenize/") || !strings.Contains(out, listed) || !strings.Contains(out, "deleted 1 artifacts") {
		t.Fatalf("gc: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(listed); !os.IsNotExist(err) {
		t.Errorf("%s still there after gc (stat: %v)", listed, err)
	}
}

// TestGCSaysWorkDirsAreResumeState: gc (and gc --dry-run) say that a work
// directory it deletes is what an interrupted stage would resume from.
func TestGCSaysWorkDirsAreResumeState(t *testing.T) {
	wf, wdFlag, wd := runMini(t)
	left := filepath.Join(wd, "tmp", "tokenize", strings.Repeat("ab", 32))
	if err := os.MkdirAll(left, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(left, "part-00000.parquet"), []byte("shard"), 0o644)
	for _, args := range [][]string{{"--dry-run"}, nil} {
		code, out := cli(t, append([]string{"gc", wf, wdFlag}, args...)...)
		if code != 0 || !strings.Contains(out, "work directory tokenize/abababababab") ||
			!strings.Contains(out, "a work directory holds the finished shards of an interrupted stage: without it, rerunning that stage starts it over") {
			t.Errorf("gc %v: exit %d\n%s", args, code, out)
		}
	}
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("gc left %s (stat: %v)", left, err)
	}
}
