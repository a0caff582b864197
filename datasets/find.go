package datasets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// findDepth bounds how deep FindFile and FindDir look below the root.
const findDepth = 4

// ErrNotFound is returned by [FindFile] and [FindDir] when nothing matches.
var ErrNotFound = errors.New("not found")

// ErrAmbiguous is returned by [FindFile] and [FindDir] when two different
// files (or directories) match at the shallowest depth, e.g.
// data/coco_precomp/train_caps.txt and data/f30k_precomp/train_caps.txt:
// picking one would silently read the wrong data set. The message names
// every candidate.
var ErrAmbiguous = errors.New("ambiguous match")

// FindFile returns the path of the shallowest regular file under root whose
// base name is one of names, looking at most a few directories deep.
// Archives unpack under differing top directories; this finds
// "Flickr8k.token.txt" whether it sits in root, root/Flickr8k_text or
// root/files/Flickr8k_text.
//
// Symlinks are followed, to files and to directories (root included: users
// link data directories into place), and each real directory is read once,
// so a symlink loop ends. The returned path goes through the links as
// found, not to their targets. Two different files matching at the same
// shallowest depth are an error wrapping [ErrAmbiguous]; one file reached
// through two paths (a link next to its target) is not.
func FindFile(root string, names ...string) (string, error) {
	return find(root, false, names)
}

// FindDir is [FindFile] for directories.
func FindDir(root string, names ...string) (string, error) {
	return find(root, true, names)
}

// find reads the tree breadth first, one depth at a time, so the first
// depth with a match is the shallowest, and a directory reachable through
// several paths (symlinks) is entered through the shallowest one.
func find(root string, dir bool, names []string) (string, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	kind := "file"
	if dir {
		kind = "directory"
	}
	// visited holds the real paths of directories already queued.
	visited := map[string]bool{}
	if real, err := filepath.EvalSymlinks(root); err == nil {
		visited[real] = true
	}
	type hit struct {
		path string
		fi   fs.FileInfo
	}
	level := []string{root} // directories whose entries are at depth
	for depth := 1; depth <= findDepth+1 && len(level) > 0; depth++ {
		var next []string
		var hits []hit
		for _, d := range level {
			ents, err := os.ReadDir(d)
			if err != nil {
				if d == root {
					return "", err
				}
				continue // unreadable subdirectory: ignore
			}
			for _, e := range ents {
				p := filepath.Join(d, e.Name())
				mode := e.Type()
				if mode&fs.ModeSymlink != 0 {
					fi, err := os.Stat(p)
					if err != nil {
						continue // dangling link: nothing there
					}
					mode = fi.Mode().Type()
				}
				isDir := mode.IsDir()
				if isDir && (depth > findDepth || strings.HasPrefix(e.Name(), "__MACOSX")) {
					continue
				}
				if want[e.Name()] && isDir == dir && (dir || mode.IsRegular()) {
					fi, err := os.Stat(p)
					if err != nil {
						continue
					}
					hits = append(hits, hit{p, fi})
				}
				if isDir {
					real, err := filepath.EvalSymlinks(p)
					if err != nil || visited[real] {
						continue // unresolvable, or already read (a link to it, or a loop)
					}
					visited[real] = true
					next = append(next, p)
				}
			}
		}
		// One file reached through two paths (a link beside its target) is
		// one match, not two.
		var paths []string
		var uniq []hit
	hits:
		for _, h := range hits {
			for _, u := range uniq {
				if os.SameFile(u.fi, h.fi) {
					continue hits
				}
			}
			uniq = append(uniq, h)
			paths = append(paths, h.path)
		}
		switch {
		case len(uniq) == 1:
			return uniq[0].path, nil
		case len(uniq) > 1:
			return "", fmt.Errorf("%d different %ss named %s, equally deep under %s: %s (point the source at the one to use): %w",
				len(uniq), kind, strings.Join(names, " or "), root, strings.Join(paths, ", "), ErrAmbiguous)
		}
		level = next
	}
	return "", fmt.Errorf("no %s named %s under %s: %w", kind, strings.Join(names, " or "), root, ErrNotFound)
}

// IsDir reports whether p is an existing directory.
func IsDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
