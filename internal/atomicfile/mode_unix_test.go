//go:build unix

package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestMode: a committed file has os.Create's mode (0666 less the umask),
// like every other file in the cache, not os.CreateTemp's 0600.
func TestMode(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "t.parquet")
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("x"); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want -rw-r--r-- (0666 less umask 022)", st.Mode().Perm())
	}
}

// TestWriteFileUmask: WriteFile's perm is reduced by the umask, as
// os.WriteFile's is for a new file: a user whose umask is 077 gets private
// files, not the world-readable perm verbatim.
func TestWriteFileUmask(t *testing.T) {
	for _, tc := range []struct {
		umask int
		perm  os.FileMode
		want  os.FileMode
	}{
		{0o022, 0o644, 0o644},
		{0o077, 0o644, 0o600},
		{0o022, 0o666, 0o644},
		{0o022, 0o600, 0o600},
		{0o027, 0o664, 0o640},
	} {
		t.Run(fmt.Sprintf("umask %03o perm %03o", tc.umask, tc.perm), func(t *testing.T) {
			old := syscall.Umask(tc.umask)
			defer syscall.Umask(old)
			path := filepath.Join(t.TempDir(), "f.json")
			if err := WriteFile(path, []byte("{}"), tc.perm); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != tc.want {
				t.Errorf("mode %v, want %v", st.Mode().Perm(), tc.want)
			}
		})
	}
}
