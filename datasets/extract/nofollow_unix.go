//go:build unix

package extract

import "syscall"

// oNoFollow makes the open of an entry's file fail on a symlink that
// appeared after the Lstat check (another process writing into the
// target directory at the same time).
const oNoFollow = syscall.O_NOFOLLOW
