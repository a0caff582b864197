package testenv

import (
	"syscall"
	"time"
)

// CPUTime is the user+system CPU time of this process so far (0 if the
// system does not report it). Benchmarks on this shared machine report work
// per CPU-second next to wall time, since other programs distort the latter.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
