package pipeline

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"
)

// FuzzLockHolder: whatever the lock file holds (a crash's partial line,
// binary damage, a large file copied over it), the holder description is
// one line of valid UTF-8 of bounded length, and a well-formed first line
// is shown as written.
func FuzzLockHolder(f *testing.F) {
	f.Add([]byte("pid 12345 on somehost since 2026-01-02T03:04:05Z\n"))
	f.Add([]byte("pid 0 on somehost since x\n"))
	f.Add([]byte("pid -1 on somehost\n"))
	f.Add([]byte("\xff\xfe\x00garbage\nsecond line\n"))
	f.Add([]byte(""))
	f.Add(bytes.Repeat([]byte("x"), 1000))
	p := filepath.Join(f.TempDir(), "lock")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fd, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer fd.Close()
		h := lockHolder(fd)
		if h == "" || strings.ContainsAny(h, "\n") || !utf8.ValidString(h) || len(h) > 3*maxHolderLine+len(" (no longer running)") {
			t.Fatalf("holder %q", h)
		}
		line, _, _ := bytes.Cut(data, []byte("\n"))
		if s := strings.TrimSpace(string(line)); s != "" && len(line) < maxHolderLine && utf8.ValidString(s) && !strings.HasPrefix(h, s) {
			t.Fatalf("holder %q, want the first line %q", h, s)
		}
	})
}

// TestLockHolderDamaged: while another open file description holds the
// lock, a lock file of 10 MB without a newline, or one whose first line
// names pid -999999 or 0 on this host, gives an error of bounded length that
// does not call the holder dead (kill(-N, 0) and kill(0, 0) ask about
// process groups, not a pid: no such group is no verdict on the holder).
func TestLockHolderDamaged(t *testing.T) {
	host, _ := os.Hostname()
	for _, tc := range []struct {
		name, content string
	}{
		{"10 MB", strings.Repeat("x", 10<<20)},
		{"pid -999999", "pid -999999 on " + host + " since now\n"},
		{"pid 0", "pid 0 on " + host + " since now\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wd := t.TempDir()
			p := filepath.Join(wd, "lock")
			if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			held, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			if err := syscall.Flock(int(held.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
				t.Fatal(err)
			}
			_, err = AcquireLock(t.Context(), wd, 0, nil)
			if !errors.Is(err, ErrLockTimeout) {
				t.Fatalf("AcquireLock: %v, want ErrLockTimeout", err)
			}
			if msg := err.Error(); len(msg) > 1024 || strings.Contains(msg, "no longer running") {
				t.Errorf("error of %d bytes: %.300q", len(msg), msg)
			}
		})
	}
}
