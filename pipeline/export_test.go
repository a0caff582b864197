package pipeline

import "time"

// SetSealHook makes seal call f in the middle of sealing (after hashing,
// before the manifest is written and the shard markers go): tests of a kill or a cancellation there.
// The returned function restores the old hook.
func SetSealHook(f func(dir string)) (restore func()) {
	old := sealHook
	sealHook = f
	return func() { sealHook = old }
}

// SetDigestClock makes the digesters created from now on read now for the
// racy check of the stat cache (a digest is remembered only for a file whose
// timestamp is safely older than the read): tests that write files and
// count reads right away pretend the files were written long before. The
// returned function restores the clock.
func SetDigestClock(now func() time.Time) (restore func()) {
	old := digestClock
	digestClock = now
	return func() { digestClock = old }
}
