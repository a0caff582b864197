// Package atomicfile writes files so that readers and crashes never see a
// partial file: data goes to a temporary file in the same directory, is
// synced, and is renamed over the target only when complete.
//
// Writers of large files call [File.StartWriteback] after each large chunk
// (a Parquet row group): the kernel starts writing those pages out while
// the writer goes on, so the sync in Commit waits only for the tail
// instead of for the whole file.
package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// File is a file being written atomically. Write to it, then Commit to
// rename it into place, or Abort to discard it. Abort after Commit is a no-op,
// so `defer f.Abort()` is safe.
type File struct {
	*os.File
	target  string
	done    bool
	flushed int64 // bytes before this offset were handed to StartWriteback
}

// Create starts writing path atomically. The parent directory is created.
// The file gets the mode os.Create would give it (0666 less the umask), not
// os.CreateTemp's 0600, so a cache shared between users stays readable.
func Create(path string) (*File, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	prefix := filepath.Join(dir, "."+filepath.Base(path)+".tmp-")
	for range 100 {
		name := prefix + strconv.FormatUint(rand.Uint64(), 36)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &File{File: f, target: path}, nil
	}
	return nil, &fs.PathError{Op: "createtemp", Path: prefix + "*", Err: fs.ErrExist}
}

// StartWriteback asks the kernel to start writing the file's dirty pages
// written since the last call to disk, without waiting for them (Linux
// sync_file_range with SYNC_FILE_RANGE_WRITE; a no-op elsewhere). It only
// schedules I/O: durability still comes from the sync in Commit, which then
// has little left to wait for. Errors are ignored for the same reason.
func (f *File) StartWriteback() {
	if f.done {
		return
	}
	off, err := f.File.Seek(0, io.SeekCurrent)
	if err != nil || off <= f.flushed {
		return
	}
	startWriteback(f.File, f.flushed, off-f.flushed)
	f.flushed = off
}

// StartWriteback asks the kernel to start writing n bytes of f from offset
// off to disk without waiting (the [File.StartWriteback] of a file that is
// not an atomicfile, e.g. a resumable download's part file): a later
// fsync then has little left to wait for.
func StartWriteback(f *os.File, off, n int64) {
	if n > 0 {
		startWriteback(f, off, n)
	}
}

// Commit flushes, closes and renames the file to its target.
func (f *File) Commit() error {
	if f.done {
		return nil
	}
	f.done = true
	if err := f.File.Sync(); err != nil {
		f.File.Close()
		os.Remove(f.File.Name())
		return err
	}
	if err := f.File.Close(); err != nil {
		os.Remove(f.File.Name())
		return err
	}
	if err := os.Rename(f.File.Name(), f.target); err != nil {
		os.Remove(f.File.Name())
		return err
	}
	return nil
}

// Abort closes and removes the temporary file.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	os.Remove(f.File.Name())
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	return f.Commit()
}

// SyncTree makes every file under dir durable, however it was written
// (stages also write files with plain os.WriteFile, extract archives or keep
// bolt stores that do not sync): on Linux one syncfs(2) of dir's
// filesystem, elsewhere an fsync per file. Call it before recording a tree
// as complete, so that a power loss cannot leave a record of files whose
// data never reached the disk.
func SyncTree(dir string) error { return syncFS(dir) }

// SyncDir fsyncs a directory, making renames and creations in it durable.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
