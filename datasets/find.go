package datasets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// findDepth bounds how deep FindFile and FindDir look below the root.
const findDepth = 4

// ErrNotFound is returned by [FindFile] and [FindDir] when nothing matches.
var ErrNotFound = errors.New("not found")

// FindFile returns the path of the shallowest regular file under root whose
// base name is one of names (ties broken by path order), looking at most a
// few directories deep. Archives unpack under differing top directories;
// this finds "Flickr8k.token.txt" whether it sits in root, root/Flickr8k_text
// or root/files/Flickr8k_text.
func FindFile(root string, names ...string) (string, error) {
	return find(root, false, names)
}

// FindDir is [FindFile] for directories.
func FindDir(root string, names ...string) (string, error) {
	return find(root, true, names)
}

func find(root string, dir bool, names []string) (string, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var hits []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil // unreadable subdirectory: ignore
		}
		rel, _ := filepath.Rel(root, p)
		depth := 0
		if rel != "." {
			depth = strings.Count(rel, string(filepath.Separator)) + 1
		}
		if d.IsDir() && depth > findDepth {
			return filepath.SkipDir
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), "__MACOSX") {
			return filepath.SkipDir
		}
		if p != root && want[d.Name()] && d.IsDir() == dir {
			if !dir && !d.Type().IsRegular() {
				return nil
			}
			hits = append(hits, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if len(hits) == 0 {
		kind := "file"
		if dir {
			kind = "directory"
		}
		return "", fmt.Errorf("no %s named %s under %s: %w", kind, strings.Join(names, " or "), root, ErrNotFound)
	}
	sort.SliceStable(hits, func(i, j int) bool {
		return strings.Count(hits[i], string(filepath.Separator)) < strings.Count(hits[j], string(filepath.Separator))
	})
	return hits[0], nil
}

// IsDir reports whether p is an existing directory.
func IsDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
