package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// Cache layout under a workdir:
//
//	cache/<kind>/<key>/       finished artifacts (manifest.json written last)
//	tmp/<kind>/<key>/         work directories of running or interrupted runs;
//	                          kept so that a rerun with the same key resumes
//	runs/<workflow>/<id>.json run records
//	statcache                 path+size+mtime+ctime -> sha256 of external files
//	lock                      the workdir lock
const (
	cacheDirName = "cache"
	tmpDirName   = "tmp"
	runsDirName  = "runs"
)

// ArtifactDir returns where the artifact of kind and key lives in workdir.
func ArtifactDir(workdir, kind, key string) string {
	return filepath.Join(workdir, cacheDirName, kind, key)
}

func workDir(workdir, kind, key string) string {
	return filepath.Join(workdir, tmpDirName, kind, key)
}

// verifyArtifact checks that dir holds a complete artifact with key: the
// manifest exists and names key, and every listed file exists with its size.
// A file whose mtime changed is rehashed and must still match its digest;
// the rehash goes through dg's stat cache (when dg is not nil), so files
// whose mtime changed without their content (a copied workdir) are read
// once, not on every check.
// It returns the manifest, or an error saying what is wrong.
func verifyArtifact(ctx context.Context, dir, key string, dg *Digester) (*Manifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errNotCached
		}
		return nil, fmt.Errorf("manifest unreadable: %v", err)
	}
	if m.Key != key {
		return nil, fmt.Errorf("manifest key %s does not match %s", short(m.Key), short(key))
	}
	// every table file must be a listed file (seal guarantees it; a
	// hand-edited manifest may not)
	listed := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		// seal lists paths inside the artifact only; a damaged or
		// hand-edited "../x" would make the artifact's tables other files
		if !filepath.IsLocal(filepath.FromSlash(f.Path)) {
			return nil, fmt.Errorf("%s: file %q is not a path inside the artifact", filepath.Join(dir, ManifestName), f.Path)
		}
		listed[f.Path] = true
	}
	for _, t := range m.Tables {
		for _, f := range t.Files {
			if !listed[f] {
				return nil, fmt.Errorf("table %s file %s is not among the manifest's files", t.Name, f)
			}
		}
	}
	stats := statFiles(dir, m.Files)
	buf := make([]byte, 256<<10)
	for i, f := range m.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		st := stats[i]
		if st == nil {
			return nil, fmt.Errorf("file %s is missing", f.Path)
		}
		if !st.Mode().IsRegular() {
			// a directory, FIFO or device where a file was: opening a FIFO
			// to rehash it would block
			return nil, fmt.Errorf("file %s is not a regular file (%v)", f.Path, st.Mode().Type())
		}
		if st.Size() != f.Size {
			return nil, fmt.Errorf("file %s is corrupted (size %d, manifest says %d)", f.Path, st.Size(), f.Size)
		}
		if st.ModTime().UnixNano() != f.MTime {
			var sum string
			var err error
			if dg != nil {
				sum, err = dg.fileDigest(ctx, p, st)
			} else {
				sum, _, err = hashFile(ctx, p, buf)
			}
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			if err != nil {
				return nil, fmt.Errorf("file %s: %v", f.Path, err)
			}
			if sum != f.SHA256 {
				return nil, fmt.Errorf("file %s is corrupted (sha256 differs from the manifest)", f.Path)
			}
		}
	}
	return m, nil
}

// statFiles stats an artifact's files (nil where a stat fails), on up to
// GOMAXPROCS goroutines for artifacts of many files, such as a data set's
// images: a fully cached run stats every file of every artifact.
func statFiles(dir string, files []FileEntry) []os.FileInfo {
	stats := make([]os.FileInfo, len(files))
	statRange := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			stats[i], _ = os.Stat(filepath.Join(dir, filepath.FromSlash(files[i].Path)))
		}
	}
	w := min(runtime.GOMAXPROCS(0), len(files)/256)
	if w <= 1 {
		statRange(0, len(files))
		return stats
	}
	var wg sync.WaitGroup
	for k := 1; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statRange(k*len(files)/w, (k+1)*len(files)/w)
		}()
	}
	statRange(0, len(files)/w)
	wg.Wait()
	return stats
}

var errNotCached = errors.New("not cached")

func short(key string) string {
	if len(key) > 12 {
		return key[:12]
	}
	return key
}

// ShortKey returns the 12-character prefix of a key used in tables and logs.
func ShortKey(key string) string { return short(key) }

// removeAll removes a directory tree, renaming it aside first so a crash in
// the middle never leaves a half-deleted artifact under its real name.
func removeAll(dir string) error {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	trash := dir + ".trash-" + fmt.Sprint(os.Getpid()) + "-" + hex.EncodeToString(rnd[:])
	if err := os.Rename(dir, trash); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return os.RemoveAll(trash)
}

// isTrash reports whether a cache directory entry is a leftover.
func isTrash(name string) bool { return strings.Contains(name, ".trash-") }
