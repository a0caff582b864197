package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
