package pipeline_test

import (
	"os"
	"path/filepath"
	"testing"

	"coderflow/pipeline"
)

// TestDigestFollowsSymlinkedDirs checks that a Path param's digest covers
// what a stage reading through symlinks sees: a path that is a symlink to a
// directory, and a symlinked directory inside the tree. Editing a file
// behind the link must change the digest; a symlink loop must not hang.
func TestDigestFollowsSymlinkedDirs(t *testing.T) {
	dir := t.TempDir()
	mk := func(rel, data string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, rel string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(dir, rel)); err != nil {
			t.Fatal(err)
		}
	}
	mk("real/images/a.jpg", "image a")
	mk("real/captions.txt", "a caption")
	mk("tree/captions.txt", "a caption")
	link("real", "linked")                // the whole source is a link
	link("../real/images", "tree/images") // one subdirectory is a link
	link("..", "real/images/loop")        // a loop back up the tree

	plain, err := pipeline.NewDigester("").Digest(filepath.Join(dir, "real"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"linked", "tree"} {
		before, err := pipeline.NewDigester("").Digest(filepath.Join(dir, p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if p == "linked" && before != plain {
			t.Errorf("digest through a link to a directory = %s, want the directory's %s", before, plain)
		}
		mk("real/images/a.jpg", "image a, edited in "+p)
		after, err := pipeline.NewDigester("").Digest(filepath.Join(dir, p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if after == before {
			t.Errorf("%s: editing a file behind a symlinked directory left the digest unchanged", p)
		}
	}
}
