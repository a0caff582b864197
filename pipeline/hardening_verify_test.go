package pipeline_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"coderflow/pipeline"
)

func stateOf(t *testing.T, h *harness, id string, sets ...string) *pipeline.State {
	t.Helper()
	states, err := h.load(sets...).States(pipeline.NewDigester(pipeline.StatCachePath(h.workdir)))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.Stage == id {
			return s
		}
	}
	t.Fatalf("no stage %s", id)
	return nil
}

// A directory put where an artifact file was, with the file's size and mtime,
// passes verification.
func TestDirReplacingFileIsStale(t *testing.T) {
	h := newHarness(t, "name: v\nstages:\n  a:\n    uses: toy.source\n    with: {file: data.txt}\n")
	probe := filepath.Join(h.dir, "probe")
	os.Mkdir(probe, 0o755)
	st, _ := os.Stat(probe)
	dsize := st.Size()
	t.Logf("empty dir size here: %d", dsize)
	// out.txt = "n=1\n" + data
	os.WriteFile(filepath.Join(h.dir, "data.txt"), []byte(strings.Repeat("x", int(dsize)-4)), 0o644)
	res := h.run(pipeline.RunOptions{})
	out := filepath.Join(res.Artifacts["a"].Dir, "out.txt")
	fi, _ := os.Stat(out)
	os.Remove(out)
	os.Mkdir(out, 0o755)
	os.Chtimes(out, fi.ModTime(), fi.ModTime())
	s := stateOf(t, h, "a")
	if s.Status == "cached" {
		t.Errorf("a directory in place of out.txt: status %s, want stale", s.Status)
	}
}

// A file entry removed from the manifest (hand edit) while its table still names it.
func TestManifestTableFileNotListed(t *testing.T) {
	h := newHarness(t, "name: v\nstages:\n  a:\n    uses: toy.source\n")
	res := h.run(pipeline.RunOptions{})
	dir := res.Artifacts["a"].Dir
	mp := filepath.Join(dir, "manifest.json")
	b, _ := os.ReadFile(mp)
	var m map[string]any
	json.Unmarshal(b, &m)
	m["files"] = []any{}
	b, _ = json.Marshal(m)
	os.WriteFile(mp, b, 0o644)
	os.Remove(filepath.Join(dir, "out.txt"))
	s := stateOf(t, h, "a")
	if s.Status == "cached" {
		t.Errorf("manifest without files, table file deleted: status %s, want stale", s.Status)
	}
}

func TestTruncatedManifestReruns(t *testing.T) {
	h := newHarness(t, "name: v\nstages:\n  a:\n    uses: toy.source\n  b:\n    uses: toy.concat\n    needs: [a]\n")
	res := h.run(pipeline.RunOptions{})
	for _, n := range []int{0, 1, 10, 100} {
		mp := filepath.Join(res.Artifacts["a"].Dir, "manifest.json")
		b, _ := os.ReadFile(mp)
		os.WriteFile(mp, b[:min(n, len(b))], 0o644)
		s := stateOf(t, h, "a")
		t.Logf("truncated to %d: %s %s", n, s.Status, s.Reason)
		if s.Status == "cached" {
			t.Errorf("truncated manifest (%d bytes) is cached", n)
		}
		resetExec()
		res = h.run(pipeline.RunOptions{})
		wantStatuses(t, res, map[string]string{"a": "ran", "b": "cached"})
	}
}

// A same-size different-content file with an older mtime.
func TestSameSizeOlderMtimeDetected(t *testing.T) {
	h := newHarness(t, "name: v\nstages:\n  a:\n    uses: toy.source\n")
	res := h.run(pipeline.RunOptions{})
	out := filepath.Join(res.Artifacts["a"].Dir, "out.txt")
	os.WriteFile(out, []byte("n=9\n"), 0o644)
	old := time.Now().Add(-24 * time.Hour)
	os.Chtimes(out, old, old)
	if s := stateOf(t, h, "a"); s.Status == "cached" {
		t.Errorf("older mtime, other content: cached")
	}
	// touched back, then replaced keeping the (new) mtime
}

// A symlink replacing an artifact file.
func TestSymlinkInArtifact(t *testing.T) {
	h := newHarness(t, "name: v\nstages:\n  a:\n    uses: toy.source\n")
	res := h.run(pipeline.RunOptions{})
	out := filepath.Join(res.Artifacts["a"].Dir, "out.txt")
	other := filepath.Join(h.dir, "other.txt")
	os.WriteFile(other, []byte("n=9\n"), 0o644)
	os.Remove(out)
	os.Symlink(other, out)
	s := stateOf(t, h, "a")
	t.Logf("symlink to other content: %s %s", s.Status, s.Reason)
	if s.Status == "cached" {
		t.Errorf("symlink with other content cached")
	}
}
