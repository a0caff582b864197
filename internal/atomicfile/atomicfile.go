// Package atomicfile writes files so that readers and crashes never see a
// partial file: data goes to a temporary file in the same directory, is
// synced, and is renamed over the target only when complete.
package atomicfile

import (
	"os"
	"path/filepath"
)

// File is a file being written atomically. Write to it, then Commit to
// rename it into place, or Abort to discard it. Abort after Commit is a no-op,
// so `defer f.Abort()` is safe.
type File struct {
	*os.File
	target string
	done   bool
}

// Create starts writing path atomically. The parent directory is created.
func Create(path string) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &File{File: f, target: path}, nil
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
