package reliability

import (
	"bufio"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInterrupt sends SIGINT (Ctrl-C) while the training stage runs: the
// run must exit 1 with a run record marked canceled, leave nothing in the
// cache that looks complete, and the next run must resume and match the
// uninterrupted reference.
func TestInterrupt(t *testing.T) {
	ref := ref(t)
	wd := filepath.Join(t.TempDir(), "wd")
	args := []string{"run", ref.wf, "--workdir", wd, "--no-progress"}
	cmd, stderr := startCF(t, args)
	// A generous bound so that a hung process fails the test instead of
	// blocking CI; the README promises about two seconds.
	watchdog := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer watchdog.Stop()
	var log strings.Builder
	sent := false
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		log.WriteString(line + "\n")
		if !sent && logField(line, "msg") == "running" && logField(line, "stage") == "train" {
			time.Sleep(time.Duration(ref.seconds["train"] * float64(time.Second) / 3))
			sent = cmd.Process.Signal(syscall.SIGINT) == nil
		}
	}
	err := cmd.Wait()
	noPanic(t, args, log.String())
	if !sent {
		t.Fatalf("the train stage never started:\n%s", log.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !ee.Exited() || ee.ExitCode() != 1 {
		t.Fatalf("after SIGINT: %v, want exit status 1\n%s", err, log.String())
	}
	rec := latestRecord(t, wd, "kill")
	if rec.Status != "canceled" {
		t.Errorf("run record status %q, want canceled", rec.Status)
	}
	verifyCache(t, wd)
	mustRun(t, args...)
	compareArtifacts(t, ref, wd)
}
