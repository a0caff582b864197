//go:build unix

package dataset

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadDimsNamedPipe: a listed image that is a named pipe (FIFO) is
// reported unreadable. Opening one for reading blocks until a writer
// appears, so the header reader, and with it the stage, hung forever,
// deaf to cancellation.
func TestReadDimsNamedPipe(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pipe.jpg")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan dims, 1)
	go func() { done <- readDims(p) }()
	var d dims
	select {
	case d = <-done:
	case <-time.After(time.Minute): // a hang guard, not a speed limit
		t.Fatal("readDims of a named pipe did not return")
	}
	if d.err == nil || os.IsNotExist(d.err) || !strings.Contains(d.err.Error(), p) {
		t.Fatalf("err = %v, want an unreadable (not missing) error naming %s", d.err, p)
	}
}
