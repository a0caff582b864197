package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLockedBy: LockedBy sees a held lock and its holder, not a released
// one, and creates nothing in a workdir that does not exist.
func TestLockedBy(t *testing.T) {
	wd := filepath.Join(t.TempDir(), "wd")
	if _, locked := LockedBy(wd); locked {
		t.Fatal("a missing workdir is locked")
	}
	if _, err := os.Stat(wd); !os.IsNotExist(err) {
		t.Fatalf("LockedBy created %s (%v)", wd, err)
	}
	l, err := AcquireLock(t.Context(), wd, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h, locked := LockedBy(wd); !locked || !strings.HasPrefix(h, fmt.Sprintf("pid %d on ", os.Getpid())) {
		t.Errorf("held lock: LockedBy = %q, %v", h, locked)
	}
	l.Release()
	if h, locked := LockedBy(wd); locked {
		t.Errorf("released lock: LockedBy = %q, %v", h, locked)
	}
	// the test took no lock: a run can take it
	l, err = AcquireLock(t.Context(), wd, 0, nil)
	if err != nil {
		t.Fatalf("after LockedBy: %v", err)
	}
	l.Release()
}
