//go:build unix

package features

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNamedPipeSkipped: an image path that is a named pipe (FIFO) is
// skipped as unreadable. Opening one for reading blocks until a writer
// appears, so the worker, and with it the stage, hung forever, deaf to
// cancellation.
func TestNamedPipeSkipped(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pipe.jpg")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := load(p, 1<<20, nil); done <- err }()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute): // a hang guard, not a speed limit
		t.Fatal("load of a named pipe did not return")
	}
	var le *loadError
	if !errors.As(err, &le) || le.reason != ReasonUnreadable || !strings.Contains(le.msg, p) {
		t.Fatalf("err = %v, want reason %s naming %s", err, ReasonUnreadable, p)
	}
}
