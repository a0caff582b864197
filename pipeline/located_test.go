package pipeline_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// TestLocatedSourceMoved: a directory read in place whose paths the output
// records (a Located param) is keyed by where it is as well as by its
// content: a copy elsewhere runs the stage again, and status says the value
// moved with the same content. A file param (not Located) moved with the
// same content stays cached.
func TestLocatedSourceMoved(t *testing.T) {
	h := newHarness(t, `
name: located
stages:
  a:
    uses: toy.dir
    with: {dir: "dir:data1"}
  b:
    uses: toy.source
    with: {file: f1.txt}
`)
	mk := func(rel, data string) {
		t.Helper()
		p := filepath.Join(h.dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"data1", "data2"} {
		mk(d+"/x.jpg", "x")
		mk(d+"/y.jpg", "y")
	}
	mk("f1.txt", "same")
	mk("f2.txt", "same")
	wantStatuses(t, h.run(pipeline.RunOptions{}), map[string]string{"a": "ran", "b": "ran"})
	wantStatuses(t, h.run(pipeline.RunOptions{}), map[string]string{"a": "cached", "b": "cached"})

	sets := []string{"a.dir=dir:data2", "b.file=f2.txt"}
	states, err := h.load(sets...).States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatal(err)
	}
	want := `param dir: "dir:` + filepath.Join(h.dir, "data1") + `" -> "dir:` + filepath.Join(h.dir, "data2") + `" (same content)`
	if a := states[0]; a.Status != pipeline.StatusStale || a.Reason != want {
		t.Errorf("a after the move: %s, %q; want stale, %q", a.Status, a.Reason, want)
	}
	if b := states[1]; b.Status != pipeline.StatusCached {
		t.Errorf("b (a file with the same content elsewhere): %s %q, want cached", b.Status, b.Reason)
	}
	res := h.run(pipeline.RunOptions{}, sets...)
	wantStatuses(t, res, map[string]string{"a": "ran", "b": "cached"})
	files, _ := res.Artifacts["a"].Table("text")
	out, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), filepath.Join(h.dir, "data2", "x.jpg")) {
		t.Errorf("a's output after the move: %q, want paths under data2", out)
	}
}

// TestStaleReasonByInputID: status compares inputs by stage id, so
// reordering needs names the order, not inputs that did not change; added
// and removed inputs are named.
func TestStaleReasonByInputID(t *testing.T) {
	const wf = `
name: order
stages:
  a:
    uses: toy.source
  b:
    uses: toy.source
    with: {n: 2}
  c:
    uses: toy.concat
    needs: [%s]
`
	h := newHarness(t, strings.Replace(wf, "%s", "a, b", 1))
	h.run(pipeline.RunOptions{})
	for needs, want := range map[string]string{
		"b, a": "needs order [a b] -> [b a] (inputs enter the key in declared order)",
		"a":    "input b removed from needs",
	} {
		if err := os.WriteFile(h.file, []byte(strings.Replace(wf, "%s", needs, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		states, err := h.load().States(pipeline.NewDigester(""))
		if err != nil {
			t.Fatal(err)
		}
		if c := states[2]; c.Status != pipeline.StatusStale || c.Reason != want {
			t.Errorf("needs [%s]: %s %q, want stale %q", needs, c.Status, c.Reason, want)
		}
	}
}

// TestSkipInputsDir: a directory param that will hold the stage's own
// input artifacts (a report's runs_dir at the workdir's cache) leaves them
// out of its digest: the run that makes the input does not change the key,
// so the next run is fully cached; another artifact landing there does.
func TestSkipInputsDir(t *testing.T) {
	h := newHarness(t, `
name: runs
stages:
  a:
    uses: toy.source
  r:
    uses: toy.runs
    needs: [a]
    with: {runs: "dir:wd/cache/toy.source"}
`)
	if err := os.MkdirAll(filepath.Join(h.workdir, "cache", "toy.source"), 0o755); err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, h.run(pipeline.RunOptions{}), map[string]string{"a": "ran", "r": "ran"})
	wantStatuses(t, h.run(pipeline.RunOptions{}), map[string]string{"a": "cached", "r": "cached"})
	// a second source artifact (another param) lands in the directory: r's
	// comparison set changed
	wantStatuses(t, h.run(pipeline.RunOptions{}, "a.n=2"), map[string]string{"a": "ran", "r": "ran"})
	wantStatuses(t, h.run(pipeline.RunOptions{}), map[string]string{"a": "cached", "r": "ran"})
	wantStatuses(t, h.run(pipeline.RunOptions{}), map[string]string{"a": "cached", "r": "cached"})
}
