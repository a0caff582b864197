package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"coderflow/pipeline"
)

// A named pipe inside a directory Path param: the key check blocks in
// open(2) and an interrupt (ctx cancel) does not stop it.
func TestFifoInDataDirIsSkipped(t *testing.T) {
	h := newHarness(t, "name: f\nstages:\n  a:\n    uses: toy.source\n    with: {file: dir:data}\n")
	data := filepath.Join(h.dir, "data")
	os.MkdirAll(data, 0o755)
	os.WriteFile(filepath.Join(data, "a.txt"), []byte("a"), 0o644)
	if err := syscall.Mkfifo(filepath.Join(data, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := h.load().StatesContext(ctx, pipeline.NewDigester(""))
		done <- err
	}()
	time.Sleep(500 * time.Millisecond)
	cancel() // Ctrl-C
	select {
	case err := <-done:
		t.Logf("returned: %v", err)
	case <-time.After(3 * time.Second):
		// unblock the open so the test process can exit
		f, _ := os.OpenFile(filepath.Join(data, "pipe"), os.O_WRONLY, 0)
		f.Close()
		t.Errorf("key check of a directory holding a FIFO still blocked 3 s after cancel")
	}
}
