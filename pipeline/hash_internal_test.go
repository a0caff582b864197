package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestHashFileStopsWhenCanceled checks that hashing one large file (the
// first digest of a multi-gigabyte archive) stops when the run is
// interrupted, not only between files.
func TestHashFileStopsWhenCanceled(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(p, make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("interrupt signal received")
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(stop)
	if _, _, err := hashFile(ctx, p, make([]byte, 64<<10)); !errors.Is(err, stop) {
		t.Fatalf("hashFile with a canceled context: %v, want the cause", err)
	}
	sum, n, err := hashFile(t.Context(), p, make([]byte, 64<<10))
	if err != nil || n != 4<<20 || len(sum) != 64 {
		t.Fatalf("hashFile: %s %d %v", sum, n, err)
	}
}
