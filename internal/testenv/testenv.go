// Package testenv finds what tests need outside the repository: the real
// data in ../shared/data (Flickr8k photos and captions, a ConceptNet sample)
// and the DuckDB Node package used as an independent Parquet reader. Tests
// skip with a clear message when either is absent, so a fresh clone
// elsewhere still passes.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// FindSharedData looks for shared/data/<rel> in the working directory and
// each of its parents (the repository sits next to shared/).
func FindSharedData(rel ...string) (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		p := filepath.Join(append([]string{dir, "shared", "data"}, rel...)...)
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// SharedData returns shared/data/<rel> or skips the test when it is absent.
func SharedData(t testing.TB, rel ...string) string {
	t.Helper()
	p, ok := FindSharedData(rel...)
	if !ok {
		t.Skipf("shared/data/%s not found above the working directory: real-data test skipped", filepath.Join(rel...))
	}
	return p
}

// NodeModules returns the node_modules that holds @duckdb/node-api:
// $CODERFLOW_NODE_MODULES, else .ci/node/node_modules at the repository root
// (where .ci/run installs it).
func NodeModules() string {
	if d := os.Getenv("CODERFLOW_NODE_MODULES"); d != "" {
		return d
	}
	d, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, ".ci", "node", "node_modules")
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

// DuckDB runs a JavaScript snippet with node and @duckdb/node-api (args are
// passed as process.argv[1:]) and returns what it prints. It skips the test
// when node or the package is absent and fails it when the script fails.
func DuckDB(t testing.TB, script string, args ...string) []byte {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed: DuckDB check skipped")
	}
	mods := NodeModules()
	if _, err := os.Stat(filepath.Join(mods, "@duckdb", "node-api")); err != nil {
		t.Skipf("@duckdb/node-api not found in %q (set CODERFLOW_NODE_MODULES or run `npm install` in .ci/node): DuckDB check skipped", mods)
	}
	cmd := exec.Command(node, append([]string{"-e", script}, args...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node/duckdb: %v\n%s", err, stderr.String())
	}
	return out
}
