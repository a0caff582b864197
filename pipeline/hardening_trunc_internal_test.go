package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestTruncatedManifestEveryPrefix(t *testing.T) {
	m := Manifest{Key: "k", Files: []FileEntry{{Path: "a", Size: 1}}, Tables: []TableEntry{{Name: "t", Files: []string{"a"}, Rows: 12345}}, Metrics: map[string]float64{"x": 1.5}, Seconds: 12.25}
	dir := t.TempDir()
	env := NewEnv("s", "k", Params{}, nil, dir, nil)
	_ = env
	b := mustJSON(m)
	ok := 0
	for n := 0; n < len(b); n++ {
		os.WriteFile(filepath.Join(dir, ManifestName), b[:n], 0o644)
		if got, err := ReadManifest(dir); err == nil {
			ok++
			t.Errorf("prefix %d parses: key %q files %d", n, got.Key, len(got.Files))
		}
	}
	// trailing garbage
	os.WriteFile(filepath.Join(dir, ManifestName), append(append([]byte{}, b...), []byte("xx")...), 0o644)
	if _, err := ReadManifest(dir); err == nil {
		t.Log("trailing garbage accepted")
	}
}

func mustJSON(v any) []byte {
	b, _ := jsonMarshalIndent(v)
	return b
}

var jsonMarshalIndent = func(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }
