package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadCommandsUseTheStatCache checks that inspect and metrics, when they
// compute keys (--set), digest external files through the workdir's stat
// cache as run and status do: they must not reread data a no-op check never
// reads, and must agree with status about what is cached. The external file
// is rewritten with the same size and mtime, so only a reread can notice.
func TestReadCommandsUseTheStatCache(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data.txt")
	if err := os.WriteFile(data, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	wf := filepath.Join(dir, "ext.yaml")
	os.WriteFile(wf, []byte("name: ext\nstages:\n  fetch:\n    uses: download\n    with: {url: "+data+"}\n"), 0o644)
	wd := "--workdir=" + filepath.Join(dir, "wd")
	if code, out := cli(t, "run", wf, wd, "--no-progress"); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	st, err := os.Stat(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(data, []byte("HELLO"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(data, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if code, out := cli(t, "status", wf, wd); code != 0 || !strings.Contains(out, "cached") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"inspect", wf, "fetch", wd, "--set", "fetch.size=0", "--path"},
		{"metrics", wf, wd, "--set", "fetch.size=0"},
	} {
		code, out := cli(t, args...)
		if code != 0 || strings.Contains(out, "missing") || strings.Contains(out, "stale") || strings.Contains(out, "no artifact") {
			t.Errorf("%s: exit %d, disagrees with status:\n%s", args[0], code, out)
		}
	}
}
