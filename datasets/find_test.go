package datasets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes a one-byte file at each slash-separated path rel
// under root, making its directories.
func writeTree(t *testing.T, root string, rels ...string) {
	t.Helper()
	for _, rel := range rels {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindFile(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root,
		"__MACOSX/Flickr8k_text/Flickr8k.token.txt",
		"files/Flickr8k_text/Flickr8k.token.txt",
		"a/b/c/d/e/deep.txt", // five levels: too deep
		"x/Flickr8k.token.txt")
	got, err := FindFile(root, "Flickr8k.token.txt")
	if err != nil || got != filepath.Join(root, "x", "Flickr8k.token.txt") {
		t.Fatalf("got %q %v, want the shallowest non-__MACOSX copy", got, err)
	}
	if _, err := FindFile(root, "deep.txt"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deep file: err %v, want ErrNotFound", err)
	}
	d, err := FindDir(root, "Flickr8k_text")
	if err != nil || !strings.HasSuffix(d, filepath.Join("files", "Flickr8k_text")) {
		t.Fatalf("FindDir: %q %v", d, err)
	}
	if _, err := FindFile(filepath.Join(root, "nope"), "x"); err == nil {
		t.Fatal("missing root: want an error")
	}
}

func TestReadFlickr8kTokens(t *testing.T) {
	t.Parallel()
	// "c#d.jpg#2": the number follows the last '#'; "e.jpg #0": no space in the name
	in := "a.jpg#0\tA dog .\r\n\n a.jpg#1\tA cat\nb.jpg#0\t  trimmed  \nc#d.jpg#2\tx\ne.jpg #0\ty\n"
	var got []string
	err := ReadFlickr8kTokens(strings.NewReader(in), "t.txt", func(line int, name string, k int, text string) error {
		got = append(got, strings.Join([]string{name, string(rune('0' + k)), text}, "|"))
		return nil
	})
	want := []string{"a.jpg|0|A dog .", "a.jpg|1|A cat", "b.jpg|0|trimmed", "c#d.jpg|2|x", "e.jpg|0|y"}
	if err != nil || strings.Join(got, ";") != strings.Join(want, ";") {
		t.Fatalf("got %q %v", got, err)
	}
	long := "a.jpg#0\t" + strings.Repeat("x", maxLine+10) + "\n"
	err = ReadFlickr8kTokens(strings.NewReader("a.jpg#0\tok\n"+long), "t.txt", func(int, string, int, string) error { return nil })
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Line != 2 {
		t.Fatalf("long line: %v", err)
	}
}

func TestReadImageListInvalidUTF8(t *testing.T) {
	t.Parallel()
	_, err := ReadImageList(strings.NewReader("a.jpg\n\xc3(.jpg\n"), "list.txt")
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Line != 2 || !strings.Contains(err.Error(), "list.txt:2: invalid UTF-8 byte 0xc3 at column 1") {
		t.Fatalf("err = %v, want list.txt:2: invalid UTF-8", err)
	}
}

// TestReadersStripBOM: a UTF-8 byte order mark (files saved by Windows
// editors) is not part of the first image name or caption.
func TestReadersStripBOM(t *testing.T) {
	t.Parallel()
	var names []string
	err := ReadFlickr8kTokens(strings.NewReader("\ufeffa.jpg#0\tA dog .\n"), "t.txt", func(_ int, name string, _ int, _ string) error {
		names = append(names, name)
		return nil
	})
	if err != nil || len(names) != 1 || names[0] != "a.jpg" {
		t.Fatalf("tokens: names %q, err %v", names, err)
	}
	list, err := ReadImageList(strings.NewReader("\ufeffa.jpg\nb.jpg\n"), "l.txt")
	if err != nil || len(list) != 2 || list[0] != "a.jpg" {
		t.Fatalf("list: %q, err %v", list, err)
	}
}

// TestFindFollowsSymlinks: data reached through symlinks is found, as users
// link data directories into place (ln -s /data/flickr8k f8k): a symlinked
// root, symlinked subdirectories and symlinked files. A symlink loop ends,
// and a link beside its target is one match, not an ambiguous two.
func TestFindFollowsSymlinks(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	data := filepath.Join(base, "data", "flickr8k")
	link := func(target, name string) {
		if err := os.Symlink(target, name); err != nil {
			t.Skipf("symlinks unsupported: %v", err)
		}
	}
	writeTree(t, data, "Flickr8k_text/Flickr8k.token.txt", "Flickr8k_text/Flickr_8k.trainImages.txt", "images/a.jpg")
	work := filepath.Join(base, "work")
	os.MkdirAll(work, 0o755)
	link(data, filepath.Join(work, "f8k"))                                        // symlinked root
	link(filepath.Join(data, "images"), filepath.Join(work, "Flicker8k_Dataset")) // symlinked subdirectory
	os.MkdirAll(filepath.Join(work, "text"), 0o755)
	link(filepath.Join(data, "Flickr8k_text", "Flickr_8k.trainImages.txt"), filepath.Join(work, "text", "Flickr_8k.trainImages.txt")) // symlinked file
	link("..", filepath.Join(data, "Flickr8k_text", "loop"))                                                                          // a loop

	root := filepath.Join(work, "f8k")
	if got, err := FindFile(root, "Flickr8k.token.txt"); err != nil || got != filepath.Join(root, "Flickr8k_text", "Flickr8k.token.txt") {
		t.Errorf("symlinked root: got %q %v", got, err)
	}
	if got, err := FindFile(work, "a.jpg"); err != nil || got != filepath.Join(work, "Flicker8k_Dataset", "a.jpg") {
		t.Errorf("symlinked subdirectory: got %q %v", got, err)
	}
	if got, err := FindDir(work, "Flicker8k_Dataset"); err != nil || got != filepath.Join(work, "Flicker8k_Dataset") {
		t.Errorf("FindDir of a symlinked directory: got %q %v", got, err)
	}
	if got, err := FindFile(work, "Flickr_8k.trainImages.txt"); err != nil || got != filepath.Join(work, "text", "Flickr_8k.trainImages.txt") {
		t.Errorf("symlinked file: got %q %v", got, err)
	}
	if _, err := FindFile(root, "nothing.txt"); !errors.Is(err, ErrNotFound) {
		t.Errorf("through a symlink loop: err %v, want ErrNotFound", err)
	}
	// A link to a directory beside the directory: the same files, one match.
	link(filepath.Join(data, "images"), filepath.Join(data, "Images"))
	if got, err := FindFile(root, "a.jpg"); err != nil || got != filepath.Join(root, "Images", "a.jpg") {
		t.Errorf("link beside its target: got %q %v, want the first path in name order", got, err)
	}
	if got, err := FindDir(root, "images", "Images"); err != nil || got != filepath.Join(root, "Images") {
		t.Errorf("FindDir, link beside its target: got %q %v", got, err)
	}
	// A dangling link is not a match.
	link(filepath.Join(base, "gone"), filepath.Join(data, "dangling.txt"))
	if _, err := FindFile(root, "dangling.txt"); !errors.Is(err, ErrNotFound) {
		t.Errorf("dangling link: err %v, want ErrNotFound", err)
	}
}

// TestFindAmbiguous: two different matches equally deep (SCAN's data.zip
// holds coco_precomp and f30k_precomp side by side) are an error naming
// both, not a silent pick; a shallower match still wins.
func TestFindAmbiguous(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, rel := range []string{"data/coco_precomp/train_caps.txt", "data/f30k_precomp/train_caps.txt", "data/coco_precomp/x/dev_caps.txt", "data/dev_caps.txt"} {
		p := filepath.Join(root, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
	}
	_, err := FindFile(root, "train_caps.txt")
	if !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("err = %v, want ErrAmbiguous", err)
	}
	for _, want := range []string{filepath.Join(root, "data", "coco_precomp", "train_caps.txt"), filepath.Join(root, "data", "f30k_precomp", "train_caps.txt")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if _, err := FindDir(root, "coco_precomp", "f30k_precomp"); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("FindDir: err = %v, want ErrAmbiguous", err)
	}
	if got, err := FindFile(root, "dev_caps.txt"); err != nil || got != filepath.Join(root, "data", "dev_caps.txt") {
		t.Errorf("shallower match: got %q %v", got, err)
	}
}

func TestFindAll(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, "b.tsv", "x/a.tsv", "x/notes.txt", "a/b/c/d/four.tsv",
		"a/b/c/d/e/five.tsv", // five levels: too deep, as for FindFile
		"__MACOSX/._b.tsv")
	os.Mkdir(filepath.Join(root, "dir.tsv"), 0o755) // a directory is not a file
	tsv := func(name string) bool { return strings.HasSuffix(name, ".tsv") }
	got, err := FindAll(root, tsv)
	want := []string{filepath.Join(root, "a/b/c/d/four.tsv"), filepath.Join(root, "b.tsv"), filepath.Join(root, "x/a.tsv")}
	if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("FindAll = %q, %v; want %q", got, err, want)
	}
	if _, err := FindAll(root, func(string) bool { return false }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no match: err %v, want ErrNotFound", err)
	}
	if _, err := FindAll(filepath.Join(root, "nope"), tsv); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("missing root: err %v, want the read error", err)
	}
}
