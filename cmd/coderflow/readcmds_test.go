package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"coderflow/pipeline"
)

// TestReadCommandsUseTheStatCache checks that inspect and metrics, when they
// compute keys (--set), digest external files through the workdir's stat
// cache as run and status do: they must not reread data a no-op check never
// reads, and must agree with status about what is cached. The stat cache's
// digest of the unchanged external file is replaced, so only a command that
// reads the stat cache sees a changed file: status says stale, and so must
// inspect and metrics. (The file itself cannot be changed unnoticed any more:
// the stat cache compares the ctime too.)
func TestReadCommandsUseTheStatCache(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data.txt")
	if err := os.WriteFile(data, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The stat cache remembers a digest only for a file whose ctime is
	// safely older than the read (pipeline's racy window, 3 s, as git's
	// "racily clean" rule); the ctime cannot be set back, so let the file age.
	time.Sleep(3500 * time.Millisecond)
	wf := filepath.Join(dir, "ext.yaml")
	os.WriteFile(wf, []byte("name: ext\nstages:\n  fetch:\n    uses: download\n    with: {url: "+data+"}\n"), 0o644)
	wdDir := filepath.Join(dir, "wd")
	wd := "--workdir=" + wdDir
	if code, out := cli(t, "run", wf, wd, "--no-progress"); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	sc := pipeline.StatCachePath(wdDir)
	b, err := os.ReadFile(sc)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	found := false
	for i, l := range lines {
		if sum, rest, ok := strings.Cut(l, "\t"); ok && strings.HasSuffix(rest, "\t"+data) {
			lines[i] = strings.Repeat("0", len(sum)) + "\t" + rest
			found = true
		}
	}
	if !found {
		t.Fatalf("no stat cache entry for %s in\n%s", data, b)
	}
	if err := os.WriteFile(sc, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := cli(t, "status", wf, wd); code != 0 || !strings.Contains(out, "stale") {
		t.Fatalf("status: exit %d, want stale (from the stat cache)\n%s", code, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect", wf, "fetch", wd, "--set", "fetch.size=0", "--path"}, "has no artifact for the current params (stale"},
		{[]string{"metrics", wf, wd, "--set", "fetch.size=0"}, "fetch  (stale)"},
	} {
		_, out := cli(t, tc.args...)
		if !strings.Contains(out, tc.want) {
			t.Errorf("%s: disagrees with status (want %q):\n%s", tc.args[0], tc.want, out)
		}
	}
}
