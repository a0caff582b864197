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
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"
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

// Create starts writing path atomically. The parent directory is created
// (durably: the parents of new directories are synced).
// The file gets the mode os.Create would give it (0666 less the umask), not
// os.CreateTemp's 0600, so a cache shared between users stays readable.
//
// The temporary file is a hidden sibling of path whose name contains
// ".tmp-" (the engine deletes such leftovers of a killed writer). If path
// is a symbolic link, Commit replaces the link itself: it never writes
// through the link into the file it points to.
func Create(path string) (*File, error) { return create(path, 0o666) }

// maxName is the longest file name most filesystems accept (NAME_MAX).
const maxName = 255

// tmpSuffix is ".tmp-" and a random base-36 uint64 (at most 13 digits).
const tmpSuffix = len(".tmp-") + 13

// IsTemp reports whether a file name is that of a temporary file Create
// makes: "." + the target's name (possibly cut) + ".tmp-" + 1 to 13
// base-36 digits. The engine deletes such leftovers of a killed writer
// when it seals an artifact; a stage's own file with ".tmp-" elsewhere in
// its name (an extracted "notes.tmp-2019.csv") is not one.
func IsTemp(name string) bool {
	i := strings.LastIndex(name, ".tmp-")
	if i < 2 || name[0] != '.' {
		return false
	}
	rnd := name[i+len(".tmp-"):]
	if len(rnd) == 0 || len(rnd) > tmpSuffix-len(".tmp-") {
		return false
	}
	for _, c := range []byte(rnd) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// create is Create with the mode the file is created with (less the umask).
func create(path string, perm os.FileMode) (*File, error) {
	dir := filepath.Dir(path)
	if err := mkdirAll(dir); err != nil {
		return nil, err
	}
	// "." + name + suffix must itself be a valid name: a target name near
	// the limit would otherwise fail with ENAMETOOLONG although it is
	// valid. The name is cut at a UTF-8 boundary.
	base := filepath.Base(path)
	if n := maxName - 1 - tmpSuffix; len(base) > n {
		for n > 0 && !utf8.RuneStart(base[n]) {
			n--
		}
		base = base[:n]
	}
	prefix := filepath.Join(dir, "."+base+".tmp-")
	for range 100 {
		name := prefix + strconv.FormatUint(rand.Uint64(), 36)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
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

// Commit flushes, closes and renames the file to its target, then syncs
// the target's directory so that the rename itself survives a power loss
// (a file system that cannot sync a directory is not an error). If only
// that last sync fails, the new file is in place but Commit returns the
// error: it may not be durable.
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
	if err := syncErr(syncParent(filepath.Dir(f.target))); err != nil {
		return fmt.Errorf("%s: syncing its directory after the rename: %w", f.target, err)
	}
	return nil
}

// syncParent is SyncDir; tests replace it to see that Commit calls it.
var syncParent = SyncDir

// syncErr is err unless it says the file system cannot sync a directory.
func syncErr(err error) error {
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	return err
}

// mkdirAll is os.MkdirAll that also syncs the parent of every directory it
// creates, so that a committed file is not lost with a new directory's
// entry in a power loss (Commit syncs only the file's own directory).
func mkdirAll(dir string) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range missing {
		if err := syncErr(syncParent(filepath.Dir(d))); err != nil {
			return fmt.Errorf("%s: syncing its parent after creating it: %w", d, err)
		}
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

// WriteFile writes data to path atomically. Like os.WriteFile's for a new
// file, its mode is perm less the umask (a umask of 077 keeps it private).
func WriteFile(path string, data []byte, perm os.FileMode) error {
	f, err := create(path, perm)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
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
