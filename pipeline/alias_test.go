package pipeline_test

import (
	"strings"
	"testing"

	"coderflow/pipeline"
)

// TestYAMLAnchorsAndMergeKeys checks that YAML anchors, aliases and merge
// keys (<<) work in workflow files as in any YAML tool: an aliased `with`
// mapping, an aliased scalar, and a merge whose explicit keys win.
func TestYAMLAnchorsAndMergeKeys(t *testing.T) {
	h := newHarness(t, `
name: alias
stages:
  a:
    uses: toy.source
    with: &src {n: 5, workers: 2}
  a2:
    uses: toy.source
    with: *src
  b:
    uses: toy.concat
    needs: [a]
    with:
      suffix: &sfx "-x"
  c:
    uses: toy.concat
    needs: [a2]
    with:
      suffix: *sfx
  d:
    uses: toy.source
    with:
      <<: *src
      n: 6
`)
	w := h.load()
	want := map[string]map[string]any{
		"a":  {"n": int64(5), "workers": int64(2)},
		"a2": {"n": int64(5), "workers": int64(2)},
		"b":  {"suffix": "-x"},
		"c":  {"suffix": "-x"},
		"d":  {"n": int64(6), "workers": int64(2)},
	}
	for id, params := range want {
		n, ok := w.Stage(id)
		if !ok {
			t.Fatalf("no stage %s", id)
		}
		got := n.Params.Map()
		for k, v := range params {
			if got[k] != v {
				t.Errorf("stage %s: %s = %v (%T), want %v", id, k, got[k], got[k], v)
			}
		}
	}

	// a bad value reached through an alias is reported where the alias is
	h2 := newHarness(t, `
stages:
  a:
    uses: toy.source
    with:
      n: &bad lots
  b:
    uses: toy.source
    with: {n: *bad}
`)
	_, err := pipeline.Load(h2.file, pipeline.LoadOptions{Registry: h2.reg, Workdir: h2.workdir})
	for _, want := range []string{`wf.yaml:6:10: stage "a": with.n: bad value: want an integer, got "lots"`,
		`wf.yaml:9:15: stage "b": with.n: bad value: want an integer, got "lots"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in:\n%v", want, err)
		}
	}
}

// TestStringParamsKeepTheirSpelling checks that a string param given a
// plain YAML number keeps the text as written ("1.10", not "1.1"), also
// through a workflow param and in a list of strings.
func TestStringParamsKeepTheirSpelling(t *testing.T) {
	h := newHarness(t, `
params:
  tag: 2.50
stages:
  a:
    uses: toy.concat
    with: {suffix: 1.10}
  b:
    uses: toy.concat
    with: {suffix: ${params.tag}, local: 0x1F}
`)
	w := h.load()
	for id, want := range map[string]map[string]string{"a": {"suffix": "1.10"}, "b": {"suffix": "2.50", "local": "0x1F"}} {
		n, _ := w.Stage(id)
		for k, v := range want {
			if got := n.Params.String(k); got != v {
				t.Errorf("stage %s: %s = %q, want %q as written", id, k, got, v)
			}
		}
	}
}
