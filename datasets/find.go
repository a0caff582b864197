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

// FindAll returns every regular file under root, at most as deep as
// [FindFile] looks, whose base name match accepts, sorted by path. The tree
// is read by the rules of [FindFile]: symlinks are followed, each real
// directory is read once, __MACOSX directories are skipped, and a file
// reached through several paths (a link beside its target) is listed once,
// by its shallowest path. No match is an error wrapping [ErrNotFound].
func FindAll(root string, match func(name string) bool) ([]string, error) {
	var out []string
	var seen []fs.FileInfo
	err := walk(root, func(ents []entry) bool {
	ents:
		for _, e := range ents {
			if !e.mode.IsRegular() || !match(e.name) {
				continue
			}
			fi, err := os.Stat(e.path)
			if err != nil {
				continue
			}
			for _, s := range seen {
				if os.SameFile(s, fi) {
					continue ents
				}
			}
			seen = append(seen, fi)
			out = append(out, e.path)
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no matching file under %s: %w", root, ErrNotFound)
	}
	sort.Strings(out)
	return out, nil
}

// entry is one directory entry met by walk: its path, base name and type
// (for a symlink, its target's type).
type entry struct {
	path, name string
	mode       fs.FileMode
}

// walk reads the tree under root breadth first, one depth at a time, and
// calls level with the entries of each depth, root's own first, until it
// returns true. Symlinks are resolved (a dangling one is left out);
// __MACOSX directories and directories deeper than findDepth are left out
// and not entered; a directory reachable through several paths is entered
// once, through the shallowest (so a symlink loop ends). An unreadable root
// is an error; an unreadable directory below it is passed over.
func walk(root string, level func(ents []entry) (stop bool)) error {
	// visited holds the real paths of directories already queued.
	visited := map[string]bool{}
	if real, err := filepath.EvalSymlinks(root); err == nil {
		visited[real] = true
	}
	dirs := []string{root} // directories whose entries are at depth
	for depth := 1; depth <= findDepth+1 && len(dirs) > 0; depth++ {
		var next []string
		var ents []entry
		for _, d := range dirs {
			des, err := os.ReadDir(d)
			if err != nil {
				if d == root {
					return err
				}
				continue // unreadable subdirectory: ignore
			}
			for _, de := range des {
				p := filepath.Join(d, de.Name())
				mode := de.Type()
				if mode&fs.ModeSymlink != 0 {
					fi, err := os.Stat(p)
					if err != nil {
						continue // dangling link: nothing there
					}
					mode = fi.Mode().Type()
				}
				if mode.IsDir() && (depth > findDepth || strings.HasPrefix(de.Name(), "__MACOSX")) {
					continue
				}
				ents = append(ents, entry{path: p, name: de.Name(), mode: mode})
				if mode.IsDir() {
					real, err := filepath.EvalSymlinks(p)
					if err != nil || visited[real] {
						continue // unresolvable, or already read (a link to it, or a loop)
					}
					visited[real] = true
					next = append(next, p)
				}
			}
		}
		if level(ents) {
			return nil
		}
		dirs = next
	}
	return nil
}

// find returns the shallowest file (or directory, if dir) under root
// named one of names; see [FindFile].
func find(root string, dir bool, names []string) (string, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	kind := "file"
	if dir {
		kind = "directory"
	}
	type hit struct {
		path string
		fi   fs.FileInfo
	}
	var found string
	var ambiguous error
	err := walk(root, func(ents []entry) bool {
		var hits []hit
		for _, e := range ents {
			if want[e.name] && e.mode.IsDir() == dir && (dir || e.mode.IsRegular()) {
				fi, err := os.Stat(e.path)
				if err != nil {
					continue
				}
				hits = append(hits, hit{e.path, fi})
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
			found = uniq[0].path
			return true
		case len(uniq) > 1:
			ambiguous = fmt.Errorf("%d different %ss named %s, equally deep under %s: %s (point the source at the one to use): %w",
				len(uniq), kind, strings.Join(names, " or "), root, strings.Join(paths, ", "), ErrAmbiguous)
			return true
		}
		return false
	})
	switch {
	case err != nil:
		return "", err
	case ambiguous != nil:
		return "", ambiguous
	case found != "":
		return found, nil
	}
	return "", fmt.Errorf("no %s named %s under %s: %w", kind, strings.Join(names, " or "), root, ErrNotFound)
}

// IsDir reports whether p is an existing directory.
func IsDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
