package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMetricsSetExcludesRunFlags: metrics --set shows the metrics at the
// keys the overrides give; --run, --runs and --diff were then silently
// ignored (metrics WF --set S.P=V --run OLD printed the current keys'
// metrics, not OLD's). As inspect does, the combination is a usage error.
func TestMetricsSetExcludesRunFlags(t *testing.T) {
	wf, wd, _ := runMini(t)
	for _, extra := range [][]string{
		{"--run", "latest"},
		{"--runs"},
		{"--diff", "latest,latest"},
	} {
		args := append([]string{"metrics", wf, wd, "--set", "params.seed=3"}, extra...)
		code, out := cli(t, args...)
		if code != 2 || !strings.Contains(out, "--set") {
			t.Errorf("%v: exit %d, want 2 naming --set\n%s", args, code, out)
		}
	}
	// --set alone still works
	if code, out := cli(t, "metrics", wf, wd, "--set", "params.seed=3"); code != 0 {
		t.Errorf("metrics --set: exit %d\n%s", code, out)
	}
}

// TestInspectDirectoryHint: inspect of a directory that is not an
// artifact named a file that does not exist ("such as
// .coderflow/cache/tokenize/part-00000.parquet"). It names what the
// directory holds: artifact directories (a kind's cache directory), or
// Parquet files (a work directory, a table's shard directory).
func TestInspectDirectoryHint(t *testing.T) {
	_, wdFlag, wd := runMini(t)
	_ = wdFlag
	kindDir := filepath.Join(wd, "cache", "tokenize")
	keys, err := os.ReadDir(kindDir)
	if err != nil || len(keys) != 1 {
		t.Fatalf("tokenize artifacts: %v %v", keys, err)
	}
	art := filepath.Join(kindDir, keys[0].Name())
	empty := t.TempDir()
	for _, tc := range []struct {
		dir, want, not string
	}{
		{kindDir, "artifact directories such as " + art, "part-00000.parquet"},
		{filepath.Join(art, "tokens"), filepath.Join(art, "tokens", "part-00000.parquet"), "such as " + filepath.Join(art, "tokens", "tokens")},
		{empty, "holds no Parquet file", "part-00000.parquet"},
	} {
		code, out := cli(t, "inspect", tc.dir)
		if code != exitUsage || !strings.Contains(out, tc.want) || strings.Contains(out, tc.not) {
			t.Errorf("inspect %s: exit %d, want 2 with %q (and not %q):\n%s", tc.dir, code, tc.want, tc.not, out)
		}
	}
}
