package pipeline

// SetSealHook makes seal call f in the middle of sealing (after hashing,
// before the shard markers go): tests of a kill or a cancellation there.
// The returned function restores the old hook.
func SetSealHook(f func(dir string)) (restore func()) {
	old := sealHook
	sealHook = f
	return func() { sealHook = old }
}
