package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"coderflow/pipeline"
)

// TestMain doubles as a subprocess entry point: with CODERFLOW_SIGNAL_HELPER
// set, the test binary installs the CLI's signal handling and then behaves
// like a stage that does not stop when canceled; with CODERFLOW_MAIN_HELPER
// it runs the CLI as main does (see mainHelper).
func TestMain(m *testing.M) {
	if os.Getenv("CODERFLOW_MAIN_HELPER") != "" {
		mainHelper()
	}
	if os.Getenv("CODERFLOW_SIGNAL_HELPER") != "" {
		ctx, stop := interruptContext(os.Stderr)
		defer stop()
		fmt.Println("ready")
		<-ctx.Done()
		fmt.Println("canceled")
		time.Sleep(time.Hour) // a stage that ignores ctx
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSecondInterruptQuits checks that the first SIGINT cancels the run's
// context and a second one ends the process even when a stage ignores the
// cancellation (the second Ctrl-C a user presses at a stuck run).
func TestSecondInterruptQuits(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CODERFLOW_SIGNAL_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(out)
	expect := func(want string) {
		t.Helper()
		if !lines.Scan() || strings.TrimSpace(lines.Text()) != want {
			t.Fatalf("helper said %q, want %q (%v)", lines.Text(), want, lines.Err())
		}
	}
	expect("ready")
	cmd.Process.Signal(os.Interrupt)
	expect("canceled")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// the handler restores the default action right after canceling; send
	// until the process goes (one signal suffices once that has happened)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for {
		cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
				t.Fatalf("helper ended with %v, want death by SIGINT", err)
			}
			return
		case <-ctx.Done():
			t.Fatal("a second SIGINT did not end a process whose stage ignores cancellation")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestInterruptedWhileWaitingForTheLock: a run interrupted while it waits
// for another run's workdir lock exits 1 saying it was interrupted before
// any stage ran (it said only "interrupt signal received").
func TestInterruptedWhileWaitingForTheLock(t *testing.T) {
	dir := t.TempDir()
	wf := filepath.Join(dir, "mini.yaml")
	os.WriteFile(wf, []byte(miniWF), 0o644)
	wd := filepath.Join(dir, "wd")
	lock, err := pipeline.AcquireLock(t.Context(), wd, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	ctx, cancel := context.WithCancelCause(t.Context())
	var out bytes.Buffer
	done := make(chan int)
	go func() { done <- runCLI(ctx, []string{"run", wf, "--workdir", wd, "--no-progress"}, &out, &out) }()
	time.Sleep(300 * time.Millisecond) // usually waiting for the lock by now; earlier is fine too
	cancel(errors.New("interrupt signal received"))
	if code := <-done; code != exitFailed || !strings.Contains(out.String(), "coderflow: interrupted (interrupt signal received) before any stage ran") {
		t.Errorf("exit %d (want 1), output:\n%s", code, out.String())
	}
}

// slowWriter records what is written after a delay, like a terminal that
// takes a moment to take a line.
type slowWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(100 * time.Millisecond)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *slowWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestInterruptNoticeBeforeCancel: the Ctrl-C notice is written before the
// run's context is canceled, so it comes before the "stage canceled" lines
// the cancellation causes (it was written by a goroutine woken by the same
// cancellation as the stages, and could come after them).
func TestInterruptNoticeBeforeCancel(t *testing.T) {
	var w slowWriter
	ctx := interruptedContext(t, &w)
	// what a stage's "stage canceled" line would follow
	if got := w.String(); !strings.Contains(got, "coderflow: interrupt signal received: stopping the running stages") {
		t.Errorf("when the context was canceled, the notice was not written yet (got %q)", got)
	}
	if got := context.Cause(ctx).Error(); got != "interrupt signal received" {
		t.Errorf("cause %q, want %q", got, "interrupt signal received")
	}
}

// blockedWriter never finishes a write, like a stderr pipe that nobody
// drains.
type blockedWriter struct{ release chan struct{} }

func (w blockedWriter) Write(p []byte) (int, error) {
	<-w.release
	return len(p), nil
}

// TestInterruptWithBlockedStderr: a notice that cannot be written does not
// keep the run from being canceled.
func TestInterruptWithBlockedStderr(t *testing.T) {
	w := blockedWriter{release: make(chan struct{})}
	defer close(w.release)
	interruptedContext(t, w)
}

// interruptedContext sends this process a SIGINT under interruptContext(w)
// and returns the context once the signal canceled it (fails the test if it
// does not within 20 s).
func interruptedContext(t *testing.T, w io.Writer) context.Context {
	t.Helper()
	ctx, stop := interruptContext(w)
	t.Cleanup(stop)
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("SIGINT did not cancel the context")
	}
	return ctx
}

// TestInterruptNoticeFirst: in a run's log, the Ctrl-C notice comes before
// the "stage canceled" line the cancellation causes (end to end; the
// ordering itself is what TestInterruptNoticeBeforeCancel pins down).
func TestInterruptNoticeFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	dir := t.TempDir()
	wf := filepath.Join(dir, "wait.yaml")
	os.WriteFile(wf, []byte("name: wait\nstages:\n  hold:\n    uses: clitest.wait\n    with: {block: true}\n"), 0o644)
	args, _ := json.Marshal([]string{"run", wf, "--workdir", filepath.Join(dir, "wd"), "--no-progress"})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CODERFLOW_MAIN_HELPER="+string(args))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	stuck := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() }) // a run the signal did not stop
	defer stuck.Stop()
	var log strings.Builder
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		log.WriteString(lines.Text() + "\n")
		if strings.Contains(lines.Text(), "msg=running stage=hold") {
			cmd.Process.Signal(os.Interrupt)
		}
	}
	cmd.Wait()
	out := log.String()
	notice := strings.Index(out, "coderflow: interrupt signal received: stopping the running stages")
	canceled := strings.Index(out, `msg="stage canceled" stage=hold`)
	if notice < 0 || canceled < 0 || notice > canceled {
		t.Errorf("want the notice (at %d) before the stage canceled line (at %d):\n%s", notice, canceled, out)
	}
}
