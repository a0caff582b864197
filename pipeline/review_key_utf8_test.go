package pipeline_test

import (
	"os"
	"path/filepath"
	"testing"

	"coderflow/pipeline"
)

// TestKeyKeepsInvalidUTF8Apart: param values that differ only in bytes
// that are not valid UTF-8 must get different keys. encoding/json, which
// writes the params into the key, turns every such byte into U+FFFD, so a
// --set value "caf\xe9" and "caf\xe8" (or two Latin-1 named directories of
// the same content in a Located param, below) shared one key, and the
// artifact of the one was taken for the other.
func TestKeyKeepsInvalidUTF8Apart(t *testing.T) {
	decl := []pipeline.Param{
		{Name: "s", Type: pipeline.String, Default: "", Doc: "a string"},
		{Name: "l", Type: pipeline.StringList, Default: []string{"x"}, Doc: "a list"},
		{Name: "set", Type: pipeline.StringList, Default: []string{"x"}, Set: true, Doc: "a set"},
	}
	key := func(t *testing.T, raw map[string]any) string {
		t.Helper()
		p, err := pipeline.NewParams(decl, raw)
		if err != nil {
			t.Fatal(err)
		}
		return pipeline.ComputeKey(pipeline.KeyInput{Kind: "toy.utf8", Version: "1", Params: p})
	}
	for _, tc := range []struct {
		name string
		a, b map[string]any
	}{
		{"string: two invalid bytes", map[string]any{"s": "caf\xe9"}, map[string]any{"s": "caf\xe8"}},
		{"string: an invalid byte and U+FFFD", map[string]any{"s": "caf\xe9"}, map[string]any{"s": "caf\uFFFD"}},
		{"string: an invalid byte and the text of its stand-in", map[string]any{"s": "\xff"}, map[string]any{"s": `{"bytes_hex":"ff"}`}},
		{"list item", map[string]any{"l": []string{"a", "\xff"}}, map[string]any{"l": []string{"a", "\xfe"}}},
		{"set item", map[string]any{"set": []string{"\xff", "a"}}, map[string]any{"set": []string{"a", "\xfe"}}},
	} {
		if ka, kb := key(t, tc.a), key(t, tc.b); ka == kb {
			t.Errorf("%s: %q and %q share the key %.12s", tc.name, tc.a, tc.b, ka)
		}
	}
	// valid values keep the key they had before the fix: no artifact of an
	// existing workdir goes stale
	const pinned = "6e539a20ed8a7f6547443d6420378682f46be9c7c52e191011bf905e6748b2fc" // computed by the code before the fix (moves with EngineSalt)
	if got := key(t, map[string]any{"s": "café \uFFFD", "l": []string{"b", "a"}, "set": []string{"b", "a", "b"}}); got != pinned {
		t.Errorf("key of valid UTF-8 values = %s, want %s (as before)", got, pinned)
	}
}

// TestLocatedLatin1DirsGetTheirOwnKeys: two directories with the same
// content whose names differ in non-UTF-8 bytes are two locations for a
// Located param: the stage's output records the absolute paths.
func TestLocatedLatin1DirsGetTheirOwnKeys(t *testing.T) {
	h := newHarness(t, "name: toy\nstages:\n  a:\n    uses: toy.dir\n    with: {dir: \"dir:.\"}\n")
	keys := map[string]string{}
	for _, name := range []string{"caf\xe9", "caf\xe8"} {
		d := filepath.Join(h.dir, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Skipf("no directory named %q here: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(d, "img.txt"), []byte("same pixels"), 0o644); err != nil {
			t.Fatal(err)
		}
		states, err := h.load("a.dir=dir:" + d).States(pipeline.NewDigester(""))
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = states[0].Key
	}
	if keys["caf\xe9"] == keys["caf\xe8"] {
		t.Fatalf("directories %q and %q share the key %.12s", "caf\xe9", "caf\xe8", keys["caf\xe9"])
	}
}
