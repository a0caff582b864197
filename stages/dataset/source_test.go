package dataset

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"coderflow/datasets"
)

// TestFindAmbiguousRootStops: a root where a file is ambiguous (two equally
// deep copies) is an error even when a later root has the file once: the
// later root must not silently decide which data set is read.
func TestFindAmbiguousRootStops(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"r1/coco_precomp/x.txt", "r1/f30k_precomp/x.txt", "r2/x.txt", "r1/coco_precomp/d/.keep", "r1/f30k_precomp/d/.keep", "r2/d/.keep"} {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	roots := []string{filepath.Join(dir, "r1"), filepath.Join(dir, "r2")}
	if _, err := findFile(roots, "x.txt"); !errors.Is(err, datasets.ErrAmbiguous) {
		t.Errorf("findFile: %v, want ErrAmbiguous", err)
	}
	if _, err := findDir(roots, "d"); !errors.Is(err, datasets.ErrAmbiguous) {
		t.Errorf("findDir: %v, want ErrAmbiguous", err)
	}
	if p, err := findFile(roots[1:], "x.txt"); err != nil || p != filepath.Join(dir, "r2", "x.txt") {
		t.Errorf("one root: %q %v", p, err)
	}
}
