package pipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// TestWorkdirRefInParamsErrors: a misspelt ${workdir} in a workflow param
// (in the file or given with --set) is reported as what it is, at the
// param (or its --set), not as "workflow params cannot reference other
// params"; where such a param is used, the error names the param, not "refers
// to a param itself". A real ${params.NAME} in a param keeps its message.
func TestWorkdirRefInParamsErrors(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "wf.yaml")
	wf := `name: bad
params:
  cache: ${workdr}/cache
  other: ${params.n}
  n: 1
stages:
  a:
    uses: toy.source
    with: {n: ${params.n}}
  b:
    uses: toy.concat
    needs: [a]
    with: {suffix: ${params.cache}}
`
	if err := os.WriteFile(f, []byte(wf), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := pipeline.Load(f, pipeline.LoadOptions{Registry: toyRegistry(), BaseDir: dir, Workdir: "/wd",
		Sets: []string{"params.n=${wrkdir}"}})
	if !errors.Is(err, pipeline.ErrUnresolved) {
		t.Fatalf("want an unresolved-reference error, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		f + `:3:3: params.cache: unresolved reference ${workdr} (only ${params.NAME} and ${workdir} references are supported) (did you mean ${workdir}?)`,
		f + `:4:3: params.other: workflow params cannot reference other params`,
		`--set params.n: params.n: unresolved reference ${wrkdir} (only ${params.NAME} and ${workdir} references are supported) (did you mean ${workdir}?)`,
		f + `:9:15: stage "a": with.n: workflow param "n": unresolved reference ${wrkdir}`,
		f + `:13:20: stage "b": with.suffix: workflow param "cache": unresolved reference ${workdr}`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing\n  %s\nin\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "refers to a param itself") || strings.Contains(msg, "params.cache: workflow params cannot reference") {
		t.Errorf("a misspelt ${workdir} reported as a reference to a param:\n%s", msg)
	}
}

// TestWorkdirFieldRejectsRefs: `workdir:` cannot use references (it is what
// ${workdir} refers to): an error at file:line:col, not a directory
// literally named "$(workdir)" (the form references take while the file is
// parsed).
func TestWorkdirFieldRejectsRefs(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "wf.yaml")
	wf := "name: wd\nworkdir: ${workdir}/sub\nstages:\n  a:\n    uses: toy.source\n"
	if err := os.WriteFile(f, []byte(wf), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := pipeline.Load(f, pipeline.LoadOptions{Registry: toyRegistry(), BaseDir: dir})
	if err == nil {
		t.Fatalf("workdir: ${workdir}/sub accepted, workdir %s", w.Workdir)
	}
	if want := f + `:2:10: workdir: unresolved reference ${workdir}/sub: references are not supported in workdir:`; !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// TestWorkdirRefTrailingSlash: --workdir with a trailing slash after a
// directory whose name ends in ':' (/data/exp:/, as a shell completes it)
// is the same workdir as without it; ${workdir}/cache/... stays a local
// path (it used to read "exp://cache", a URL, so the runs directory was
// neither digested nor read).
func TestWorkdirRefTrailingSlash(t *testing.T) {
	h := newHarness(t, runsWorkflow)
	clean := filepath.Join(h.dir, "exp:")
	h.workdir = clean + "/"
	w := h.load()
	if w.Workdir != clean {
		t.Errorf("workdir %q, want %q", w.Workdir, clean)
	}
	r, _ := w.Stage("r")
	if local, ok := pipeline.IsLocalSource(r.Params.Path("runs")); !ok || local != filepath.Join(clean, "cache", "toy.source") {
		t.Errorf("runs %q: local %q %v", r.Params.Path("runs"), local, ok)
	}
	h.run(pipeline.RunOptions{})
	h.run(pipeline.RunOptions{}, "a.n=2")
	res := h.run(pipeline.RunOptions{})
	out, err := os.ReadFile(res.Artifacts["r"].Path("out.txt"))
	if err != nil || strings.Count(string(out), "\n") != 1 {
		t.Errorf("r lists %q (%v), want the other source artifact", out, err)
	}
	for v, want := range map[string]bool{
		"/data/exp://cache": true, "exp://x": false, "s3://bucket/x": false, "HTTPS://host/x": false,
		"git+ssh://host/x": false, "file:///x": true, "dir:/x": true,
	} {
		if _, ok := pipeline.IsLocalSource(v); ok != want {
			t.Errorf("IsLocalSource(%q) = %v, want %v", v, ok, want)
		}
	}
}

// runsWorkflow is a workflow whose stage r digests and reads the workdir's
// cache of toy.source artifacts (SkipInputs, MissingIsEmpty), as a report's
// runs_dir does.
const runsWorkflow = `
name: runs
stages:
  a:
    uses: toy.source
  r:
    uses: toy.rundir
    needs: [a]
    with: {runs: "${workdir}/cache/toy.source"}
`

func wfState(t *testing.T, w *pipeline.Workflow, id string) *pipeline.State {
	t.Helper()
	states, err := w.States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatalf("states: %v", err)
	}
	for _, s := range states {
		if s.Stage == id {
			return s
		}
	}
	t.Fatalf("no stage %s", id)
	return nil
}

// TestRunsDirDanglingEntry: a dangling symlink in a MissingIsEmpty
// directory (a link to an artifact gc deleted) is not there, as the
// directory itself would not be: status, run and gc of the workflow keep
// working (it used to be "params.runs: stat ...: no such file or
// directory", exit 2, for every workflow whose report reads the cache).
func TestRunsDirDanglingEntry(t *testing.T) {
	h := newHarness(t, runsWorkflow)
	wantStatuses(t, h.run(pipeline.RunOptions{}), map[string]string{"a": "ran", "r": "ran"})
	key := wfState(t, h.load(), "r").Key
	link := filepath.Join(h.workdir, "cache", "toy.source", "latest")
	if err := os.Symlink(filepath.Join(h.workdir, "cache", "toy.source", "deleted"), link); err != nil {
		t.Fatal(err)
	}
	if s := wfState(t, h.load(), "r"); s.Status != pipeline.StatusCached || s.Key != key {
		t.Errorf("with a dangling link: r %s (%s), want cached", s.Status, s.Reason)
	}
	wantStatuses(t, h.run(pipeline.RunOptions{}), map[string]string{"a": "cached", "r": "cached"})
}

// TestRunsDirTrashNotInStatus: an artifact directory left renamed aside by
// an interrupted deletion (*.trash-*) is not part of a SkipInputs
// directory's digest: `status` agrees with the run, which sweeps it before
// it computes keys (status used to say stale, then run found it cached).
func TestRunsDirTrashNotInStatus(t *testing.T) {
	h := newHarness(t, runsWorkflow)
	res := h.run(pipeline.RunOptions{})
	trash := res.Artifacts["a"].Dir + ".trash-12345-abcdef01"
	if err := os.MkdirAll(trash, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(trash, "out.txt"), []byte("half deleted"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s := wfState(t, h.load(), "r"); s.Status != pipeline.StatusCached {
		t.Errorf("status with a trash directory: r %s (%s), want cached", s.Status, s.Reason)
	}
	wantStatuses(t, h.run(pipeline.RunOptions{}), map[string]string{"a": "cached", "r": "cached"})
}

// TestSetListWithRefs: a --set list may hold references, as a list in the
// file may: [${workdir}/a, ${params.p}, "$(x)"] is three items, resolved
// (it used to be the two strings "[/wd/a" and "b]": the braces made the
// flow list invalid YAML, so the whole value was split as text).
func TestSetListWithRefs(t *testing.T) {
	dir := t.TempDir()
	reg := pipeline.NewRegistry()
	reg.MustRegister(pipeline.Spec{Kind: "toy.list", Version: "1",
		Params: []pipeline.Param{{Name: "parts", Type: pipeline.StringList, Default: []string{"x"}}},
		Stage:  pipeline.StageFunc(func(context.Context, *pipeline.Env) error { return nil })})
	f := filepath.Join(dir, "list.yaml")
	if err := os.WriteFile(f, []byte("name: list\nparams:\n  p: pv\nstages:\n  a:\n    uses: toy.list\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wd := filepath.Join(dir, "wd")
	for set, want := range map[string][]string{
		`a.parts=[${workdir}/a, b]`:                    {wd + "/a", "b"},
		`a.parts=[${params.p}, "at ${workdir}", $(x)]`: {"pv", "at " + wd, "$(x)"},
	} {
		w, err := pipeline.Load(f, pipeline.LoadOptions{Registry: reg, BaseDir: dir, Workdir: wd, Sets: []string{set}})
		if err != nil {
			t.Fatalf("--set %s: %v", set, err)
		}
		if got := w.Stages[0].Params.Strings("parts"); !slices.Equal(got, want) {
			t.Errorf("--set %s: parts %q, want %q", set, got, want)
		}
	}
}
