package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrLockTimeout is returned by [AcquireLock] when another live process kept
// the workdir lock for longer than the timeout.
var ErrLockTimeout = errors.New("workdir is locked by another run")

// Lock is an exclusive lock on a workdir, held by one `coderflow run` at a
// time. It is an flock(2) on <workdir>/lock, so the kernel releases it when
// the holder dies, however it dies: a lock left by a killed process is taken
// over at once. The file also records the holder's pid for messages.
type Lock struct {
	f *os.File
}

// AcquireLock takes the workdir lock, waiting up to timeout (0: fail at
// once; negative: wait forever) while another process holds it. onWait, if
// not nil, is called once with the holder's description when waiting starts;
// with timeout 0 there is no wait, so it is not called. Either way the
// error, which wraps [ErrLockTimeout], names the holder.
func AcquireLock(ctx context.Context, workdir string, timeout time.Duration, onWait func(holder string)) (*Lock, error) {
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		return nil, err
	}
	p := filepath.Join(workdir, "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	waited := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		holder := lockHolder(f)
		if timeout == 0 {
			f.Close()
			return nil, fmt.Errorf("%w (%s); --lock-timeout 0 does not wait: --lock-timeout 10m waits up to 10 minutes for it (negative: as long as it takes)", ErrLockTimeout, holder)
		}
		if !waited && onWait != nil {
			onWait(holder)
		}
		waited = true
		if timeout >= 0 && time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w (%s); waited %s", ErrLockTimeout, holder, timeout)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, context.Cause(ctx)
		case <-time.After(100 * time.Millisecond):
		}
	}
	host, _ := os.Hostname()
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d on %s since %s\n", os.Getpid(), host, time.Now().Format(time.RFC3339))), 0)
	return &Lock{f: f}, nil
}

// LockedBy reports whether a process holds the workdir lock now and, if
// so, who (as in AcquireLock's messages). It takes the lock only for the
// instant of the test and creates nothing: a missing workdir or lock file
// is not locked. For read-only commands (gc --dry-run, status) that must
// say that a run is going on next to them.
func LockedBy(workdir string) (holder string, locked bool) {
	f, err := os.Open(filepath.Join(workdir, "lock"))
	if err != nil {
		return "", false
	}
	defer f.Close()
	switch err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); {
	case err == nil:
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return "", false
	case errors.Is(err, syscall.EWOULDBLOCK):
		return lockHolder(f), true
	default:
		return "", false
	}
}

// maxHolderLine bounds what lockHolder reads of the lock file: the holder
// writes one short line, and a damaged or replaced file (a large file
// copied over it) must not be read whole into an error message.
const maxHolderLine = 256

// lockHolder describes the holder of the lock from the first line of the
// lock file f (read through the descriptor AcquireLock holds, not by
// reopening its path).
func lockHolder(f io.ReaderAt) string {
	b := make([]byte, maxHolderLine)
	n, _ := f.ReadAt(b, 0)
	line, _, _ := strings.Cut(string(b[:n]), "\n")
	s := strings.TrimSpace(strings.ToValidUTF8(line, "\uFFFD"))
	if s == "" {
		return "holder unknown"
	}
	// "pid N on HOST since T": a pid is only looked up on its own host (on
	// a workdir shared over NFS the holder may be another machine's
	// process, which no local pid says anything about)
	if f := strings.Fields(s); len(f) > 3 && f[2] == "on" {
		host, _ := os.Hostname()
		if pid, err := strconv.Atoi(f[1]); err == nil && pid > 0 && f[3] == host && syscall.Kill(pid, 0) == syscall.ESRCH {
			return s + " (no longer running)"
		}
	}
	return s
}

// Release releases the lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
	return err
}
