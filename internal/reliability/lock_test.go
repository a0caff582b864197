package reliability

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startRun starts `coderflow run` and returns once its log shows a stage
// running (so it holds the workdir lock).
func startRun(t *testing.T, args []string) (*exec.Cmd, *strings.Builder, chan struct{}) {
	t.Helper()
	cmd, stderr := startCF(t, args)
	var log strings.Builder
	running := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !once && logField(sc.Text(), "msg") == "running" {
				once = true
				close(running)
			}
		}
		if !once {
			close(running)
		}
	}()
	<-running
	return cmd, &log, done
}

// lockTimeoutRE is the documented message of a run that gave up waiting
// for the workdir lock: it names the holder and how long it waited.
var lockTimeoutRE = regexp.MustCompile(`workdir is locked by another run \(pid [0-9]+ on \S+ since \S+\); waited 100ms`)

// TestLockTimeout: a second run that cannot get the workdir lock within
// --lock-timeout fails with exit 1 and names the holder; the first run is
// not disturbed.
func TestLockTimeout(t *testing.T) {
	ref := ref(t)
	wd := filepath.Join(t.TempDir(), "wd")
	args := []string{"run", ref.wf, "--workdir", wd, "--no-progress"}
	cmd, log, done := startRun(t, args)
	r := cf(t, context.Background(), "", append(args, "--lock-timeout", "100ms")...)
	if r.code != 1 || !lockTimeoutRE.MatchString(r.stderr) {
		t.Errorf("second run: exit %d, want 1 with %q:\n%s", r.code, lockTimeoutRE, r.all())
	}
	err := cmd.Wait()
	<-done
	if err != nil {
		t.Fatalf("first run: %v\n%s", err, log.String())
	}
	compareArtifacts(t, ref, wd)
}

// TestWaiterAfterKilledHolder: a run waiting for the lock takes over when
// the holder is SIGKILLed (the kernel drops the flock), resumes its work
// dirs and produces the reference artifacts.
func TestWaiterAfterKilledHolder(t *testing.T) {
	ref := ref(t)
	wd := filepath.Join(t.TempDir(), "wd")
	args := []string{"run", ref.wf, "--workdir", wd, "--no-progress"}
	holder, hlog, hdone := startRun(t, args)
	waiter := exec.Command(cfBin, args...)
	waiter.Env = append(os.Environ(), "CODERFLOW_WORKDIR=")
	var wout strings.Builder
	waiter.Stdout, waiter.Stderr = &wout, &wout
	if err := waiter.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill the holder once the waiter is (very likely) waiting; the
	// result must be the same either way.
	time.Sleep(time.Duration(ref.seconds["data"] * float64(time.Second) / 2))
	holder.Process.Signal(syscall.SIGKILL)
	holder.Wait()
	<-hdone
	watchdog := time.AfterFunc(2*time.Minute, func() { waiter.Process.Kill() })
	defer watchdog.Stop()
	if err := waiter.Wait(); err != nil {
		t.Fatalf("waiter: %v\n%s\nholder log:\n%s", err, wout.String(), hlog.String())
	}
	noPanic(t, args, wout.String())
	t.Logf("waiter waited: %v, resumed: %v", strings.Contains(wout.String(), "waiting for the workdir lock"),
		strings.Contains(wout.String(), "msg=resuming"))
	compareArtifacts(t, ref, wd)
}

// startCF starts the coderflow binary with args (the workdir comes from the
// args, never the environment) and returns it with its stderr, where the
// log lines the tests watch are written.
func startCF(t *testing.T, args []string) (*exec.Cmd, io.ReadCloser) {
	t.Helper()
	cmd := exec.Command(cfBin, args...)
	cmd.Env = append(os.Environ(), "CODERFLOW_WORKDIR=")
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stderr
}
