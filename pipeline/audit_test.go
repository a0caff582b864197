package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// TestStageIDParamsIsReserved: `--set params.NAME=V` always sets a workflow
// param, so a stage with the id "params" could never be given a --set
// value (--set params.n=5 said `no workflow param "n"`). The id is refused
// where it is written.
func TestStageIDParamsIsReserved(t *testing.T) {
	h := newHarness(t, `
name: toy
params:
  base: 1
stages:
  params:
    uses: toy.source
    with: {n: ${params.base}}
`)
	_, err := pipeline.Load(h.file, pipeline.LoadOptions{Registry: h.reg, BaseDir: h.dir, Workdir: h.workdir})
	if err == nil {
		t.Fatal(`a stage with the id "params" validated`)
	}
	if want := h.file + `:6:3: stage "params": `; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("error %q, want one at %s saying the id is reserved", err, want)
	}
}

// TestNameFromFileName: a workflow without `name:` is named after its file,
// and its run records go to runs/<name>/. A file name that gives no name
// (".yaml", "..yaml", "...yaml") put the records directly in runs/ (where
// gc and the killed-run check do not look) or in the workdir itself: it is
// a validation error asking for `name:`. Other names, dots included, stay.
func TestNameFromFileName(t *testing.T) {
	const body = "stages:\n  a:\n    uses: toy.source\n"
	for _, tc := range []struct {
		file, name string // name "" = an error
	}{
		{".yaml", ""},
		{"..yaml", ""},
		{"...yaml", ""},
		{"flow.yaml", "flow"},
		{"flow.v2.yaml", "flow.v2"},
		{".hidden.yaml", ".hidden"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			dir := t.TempDir()
			f := filepath.Join(dir, tc.file)
			if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			w, err := pipeline.Load(f, pipeline.LoadOptions{Registry: toyRegistry(), BaseDir: dir, Workdir: filepath.Join(dir, "wd")})
			if tc.name == "" {
				if err == nil {
					t.Fatalf("loaded as workflow %q, want an error asking for name:", w.Name)
				}
				if !strings.Contains(err.Error(), "name:") {
					t.Errorf("error %q does not ask for name:", err)
				}
				// with a name it loads
				if err := os.WriteFile(f, []byte("name: ok\n"+body), 0o644); err != nil {
					t.Fatal(err)
				}
				if _, err := pipeline.Load(f, pipeline.LoadOptions{Registry: toyRegistry(), BaseDir: dir, Workdir: filepath.Join(dir, "wd")}); err != nil {
					t.Errorf("with name: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w.Name != tc.name {
				t.Errorf("name %q, want %q", w.Name, tc.name)
			}
		})
	}
}

// TestStaleReasonLocalSource: a stage that reads a local source instead of
// its needs (Spec.InputsUnused) keeps its needs; status said "input fetch
// removed from needs" for a `needs:` nobody had touched.
func TestStaleReasonLocalSource(t *testing.T) {
	const wf = `
name: local
stages:
  fetch:
    uses: toy.source
  data:
    uses: toy.concat
    needs: [fetch]
`
	reason := func(h *harness, sets ...string) string {
		t.Helper()
		st, err := h.load(sets...).States(pipeline.NewDigester(""))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			if s.Stage == "data" {
				if s.Status != pipeline.StatusStale {
					t.Fatalf("data is %s, want stale", s.Status)
				}
				return s.Reason
			}
		}
		t.Fatal("no state of data")
		return ""
	}
	// the upstream was read; now a local source
	h := newHarness(t, wf)
	h.run(pipeline.RunOptions{})
	r := reason(h, "data.local=offline copy")
	if !strings.Contains(r, "input fetch not read") || strings.Contains(r, "needs") {
		t.Errorf("reason %q, want it to say that fetch is not read (needs are unchanged)", r)
	}
	// a local source was read; now the upstream again
	h = newHarness(t, wf)
	h.run(pipeline.RunOptions{}, "data.local=offline copy")
	r = reason(h)
	if !strings.Contains(r, "input fetch read again") || strings.Contains(r, "needs") {
		t.Errorf("reason %q, want it to say that fetch is read again (needs are unchanged)", r)
	}
	// a real change of needs is still named so
	h = newHarness(t, wf)
	h.run(pipeline.RunOptions{})
	if err := os.WriteFile(h.file, []byte(strings.Replace(wf, "needs: [fetch]", "needs: []", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := reason(h); !strings.Contains(r, "input fetch removed from needs") {
		t.Errorf("reason %q, want input fetch removed from needs", r)
	}
}

// TestStatusMissingArtifactSaysGone: a stage whose artifact was deleted
// (rm -rf of its cache directory) after the last run made it under the
// same key was listed as missing with no reason, as if it had never run.
// The reason says the artifact is gone; the status stays missing, and run
// makes it again.
func TestStatusMissingArtifactSaysGone(t *testing.T) {
	h := newHarness(t, diamond)
	res := h.run(pipeline.RunOptions{})
	if err := os.RemoveAll(res.Artifacts["b"].Dir); err != nil {
		t.Fatal(err)
	}
	st, err := h.load().States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		switch s.Stage {
		case "b":
			if s.Status != pipeline.StatusMissing || !strings.Contains(s.Reason, "gone") {
				t.Errorf("b: %s %q, want missing saying its artifact is gone", s.Status, s.Reason)
			}
		default:
			if s.Status != pipeline.StatusCached || s.Reason != "" {
				t.Errorf("%s: %s %q, want cached", s.Stage, s.Status, s.Reason)
			}
		}
	}
	// a stage that never ran says nothing
	h2 := newHarness(t, diamond)
	st, err = h2.load().States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Status != pipeline.StatusMissing || s.Reason != "" {
			t.Errorf("fresh %s: %s %q, want missing without a reason", s.Stage, s.Status, s.Reason)
		}
	}
}

// TestSealKeepsFilesNamedLikeTemps: seal deletes the leftovers of a killed
// atomic write (".NAME.tmp-RANDOM", see internal/atomicfile), but it deleted
// every file with ".tmp-" anywhere in its name: a stage's own output such
// as a downloaded "notes.tmp-2019.csv" vanished from the artifact without a
// word. Only atomicfile's pattern is deleted now.
func TestSealKeepsFilesNamedLikeTemps(t *testing.T) {
	keep := []string{"notes.tmp-2019.csv", "a.tmp-1", ".hidden.tmp-final.txt", "sub/x.parquet.tmp-42", ".tmp-", ".a.tmp-"}
	drop := []string{".out.txt.tmp-abc123", "sub/.x.parquet.tmp-42", ".part-001.txt.tmp-3w5e11264sgsg"}
	h := newHarness(t, "name: temps\nstages:\n  s:\n    uses: toy.files\n")
	h.reg.MustRegister(pipeline.Spec{Kind: "toy.files", Version: "1", Doc: "writes files with awkward names",
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			for _, p := range append(slices.Clone(keep), drop...) {
				if err := os.WriteFile(env.Path(p), []byte(p), 0o644); err != nil {
					return err
				}
			}
			return nil
		})})
	res := h.run(pipeline.RunOptions{})
	dir := res.Artifacts["s"].Dir
	listed := map[string]bool{}
	for _, f := range res.Artifacts["s"].Manifest.Files {
		listed[f.Path] = true
	}
	for _, p := range keep {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); err != nil || !listed[p] {
			t.Errorf("%s: not kept in the artifact (listed %v): %v", p, listed[p], err)
		}
	}
	for _, p := range drop {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); err == nil || listed[p] {
			t.Errorf("%s: the leftover of a killed write is in the artifact", p)
		}
	}
}

// registerToySet registers toy.set: a Set param parts and an Int n.
func registerToySet(h *harness) {
	h.reg.MustRegister(pipeline.Spec{Kind: "toy.set", Version: "1", Doc: "a Set param",
		Params: []pipeline.Param{
			{Name: "parts", Type: pipeline.StringList, Default: []string{}, Set: true, Doc: "order does not matter"},
			{Name: "n", Type: pipeline.Int, Default: 1, Doc: "a number"},
		},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			return os.WriteFile(env.Path("out.txt"), []byte("x"), 0o644)
		})})
}

// TestStaleReasonSetParamOrder: a Set param ([Param.Set]) enters the key
// as a set, so reordering it changes nothing; status still named it among
// the reasons of a stage made stale by another param ("param parts:
// ["a","b"] -> ["b","a"]; param n: 1 -> 2").
func TestStaleReasonSetParamOrder(t *testing.T) {
	h := newHarness(t, "name: set\nstages:\n  s:\n    uses: toy.set\n    with: {parts: [a, b], n: 1}\n")
	registerToySet(h)
	h.run(pipeline.RunOptions{})
	check := func(sets []string, status, want, not string) {
		t.Helper()
		st, err := h.load(sets...).States(pipeline.NewDigester(""))
		if err != nil {
			t.Fatal(err)
		}
		if st[0].Status != status || !strings.Contains(st[0].Reason, want) || (not != "" && strings.Contains(st[0].Reason, not)) {
			t.Errorf("%v: %s %q, want %s with %q and without %q", sets, st[0].Status, st[0].Reason, status, want, not)
		}
	}
	check([]string{"s.parts=[b, a, a]"}, pipeline.StatusCached, "", "")
	check([]string{"s.parts=[b, a]", "s.n=2"}, pipeline.StatusStale, "param n: 1 -> 2", "parts")
	check([]string{"s.parts=[b, c]"}, pipeline.StatusStale, `param parts: ["a","b"] -> ["b","c"]`, "")
}

// TestStaleReasonSetParamEmpty: an empty Set param (null in the manifest)
// is no change either.
func TestStaleReasonSetParamEmpty(t *testing.T) {
	h := newHarness(t, "name: set\nstages:\n  s:\n    uses: toy.set\n    with: {parts: [], n: 1}\n")
	registerToySet(h)
	h.run(pipeline.RunOptions{})
	st, err := h.load("s.n=2").States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Reason != "param n: 1 -> 2" {
		t.Errorf("reason %q, want only the change of n", st[0].Reason)
	}
}

// TestStaleReasonNeedsAddedToLocalReader: a stage kind that can read a
// local source, whose last run had no needs at all, is told apart from one
// whose last run read a local source: adding `needs:` is named as such.
func TestStaleReasonNeedsAddedToLocalReader(t *testing.T) {
	const wf = "name: local\nstages:\n  fetch:\n    uses: toy.source\n  data:\n    uses: toy.concat\n    needs: [fetch]\n"
	h := newHarness(t, strings.Replace(wf, "    needs: [fetch]\n", "", 1))
	h.run(pipeline.RunOptions{})
	if err := os.WriteFile(h.file, []byte(wf), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := h.load().States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatal(err)
	}
	if r := st[1].Reason; !strings.Contains(r, "input fetch added to needs") {
		t.Errorf("reason %q, want input fetch added to needs", r)
	}
}

// TestStaleReasonKindChanged: a stage whose `uses:` changed was stale with
// "key changed since the last run (its artifact is gone, so the cause is
// unknown)": the last run's artifact was looked up under the new kind.
func TestStaleReasonKindChanged(t *testing.T) {
	h := newHarness(t, diamond)
	h.run(pipeline.RunOptions{})
	if err := os.WriteFile(h.file, []byte(strings.Replace(diamond, "  d:\n    uses: toy.concat\n    needs: [a]\n    with: {suffix: \"-d\"}", "  d:\n    uses: toy.source", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := h.load().States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Stage == "d" && (s.Status != pipeline.StatusStale || !strings.Contains(s.Reason, "uses: toy.concat -> toy.source")) {
			t.Errorf("d: %s %q, want stale naming the change of kind", s.Status, s.Reason)
		}
	}
}

// TestSecondYAMLDocument: a workflow file with a second YAML document
// (after ---) is an error at that document, not a workflow whose second
// part is silently left out; a trailing empty document is fine.
func TestSecondYAMLDocument(t *testing.T) {
	dir := t.TempDir()
	one := "name: w\nstages:\n  a:\n    uses: toy.source\n"
	for _, tc := range []struct {
		name, text, want string
	}{
		{"second", one + "---\nstages:\n  b:\n    uses: toy.source\n", "w.yaml:5:1: a second YAML document"},
		{"trailing", one + "---\n", ""},
		{"end marker", one + "...\n", ""},
	} {
		p := filepath.Join(dir, "w.yaml")
		if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := pipeline.Load(p, pipeline.LoadOptions{Registry: toyRegistry(), Workdir: filepath.Join(dir, "wd")})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// TestHomeInPaths: a leading ~ in a path param (plain, dir: or file://)
// and in the workdir is the home directory, as a shell would expand it; a
// workflow file is YAML, which expands nothing, so "dir:~/data" named a
// directory "~" under the launch directory.
func TestHomeInPaths(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := t.TempDir()
	p := filepath.Join(dir, "w.yaml")
	for _, tc := range []struct{ value, want string }{
		{"~/data/x.txt", filepath.Join(home, "data/x.txt")},
		{"dir:~/data", "dir:" + filepath.Join(home, "data")},
		{"file://~/x.txt", "file://" + filepath.Join(home, "x.txt")},
		{"~", home},
		{"~user/x", filepath.Join(dir, "~user/x")},
		{"data/~/x", filepath.Join(dir, "data/~/x")},
	} {
		text := "name: w\nworkdir: ~/wd\nstages:\n  a:\n    uses: toy.source\n    with: {file: \"" + tc.value + "\"}\n"
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		w, err := pipeline.Load(p, pipeline.LoadOptions{Registry: toyRegistry(), BaseDir: dir})
		if err != nil {
			t.Fatalf("%s: %v", tc.value, err)
		}
		n, _ := w.Stage("a")
		if got := n.Params.Path("file"); got != tc.want {
			t.Errorf("file %q: resolved %q, want %q", tc.value, got, tc.want)
		}
		if w.Workdir != filepath.Join(home, "wd") {
			t.Errorf("workdir ~/wd: resolved %q", w.Workdir)
		}
	}
}
