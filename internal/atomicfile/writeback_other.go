//go:build !linux

package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

func startWriteback(*os.File, int64, int64) {}

// syncFS syncs every regular file under dir (there is no syncfs here).
func syncFS(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}
