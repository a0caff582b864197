package datasets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindFile(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mk := func(rel string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
	}
	mk("__MACOSX/Flickr8k_text/Flickr8k.token.txt")
	mk("files/Flickr8k_text/Flickr8k.token.txt")
	mk("a/b/c/d/e/deep.txt") // five levels: too deep
	mk("x/Flickr8k.token.txt")
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
	in := "a.jpg#0\tA dog .\r\n\n a.jpg#1\tA cat\nb.jpg#0\t  trimmed  \n"
	var got []string
	err := ReadFlickr8kTokens(strings.NewReader(in), "t.txt", func(line int, name string, k int, text string) error {
		got = append(got, strings.Join([]string{name, string(rune('0' + k)), text}, "|"))
		return nil
	})
	want := []string{"a.jpg|0|A dog .", "a.jpg|1|A cat", "b.jpg|0|trimmed"}
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
