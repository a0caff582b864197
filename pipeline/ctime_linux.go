package pipeline

import (
	"io/fs"
	"syscall"
)

// changeTime returns the inode change time of fi in nanoseconds (0 when
// unknown). Unlike the mtime, no program can set it back: a file replaced
// by one with the same size and a copied mtime (rsync -t, cp -p, tar x,
// touch -r) has a new ctime.
func changeTime(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ctim.Nano()
	}
	return 0
}
