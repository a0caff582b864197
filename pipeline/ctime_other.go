//go:build !linux

package pipeline

import "io/fs"

// changeTime returns 0 where the inode change time is not read: the stat
// cache then relies on size and mtime alone.
func changeTime(fi fs.FileInfo) int64 { return 0 }
