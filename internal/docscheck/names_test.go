package docscheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

var testFuncRE = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark)[A-Z]\w*)\(`)

// testFuncs returns the Test/Fuzz/Benchmark functions of the repository's
// _test.go files (under dir, relative to root), by name, with their file.
func testFuncs(t *testing.T, root, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") && p != filepath.Join(root, dir)) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range testFuncRE.FindAllSubmatch(b, -1) {
			out[string(m[1])] = p
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var docTestNameRE = regexp.MustCompile(`\b(?:Test|Fuzz)[A-Z]\w*`)

// TestNamedTestsExist checks that every TestX or FuzzX that README and the
// stage docs name is a test function somewhere in the repository.
func TestNamedTestsExist(t *testing.T) {
	root := repoRoot(t)
	funcs := testFuncs(t, root, ".")
	texts := stageDocs(t, root)
	texts["README.md"] = readmeText(t, root)
	for file, text := range texts {
		for i, l := range strings.Split(text, "\n") {
			for _, name := range docTestNameRE.FindAllString(l, -1) {
				if _, ok := funcs[name]; !ok {
					t.Errorf("%s:%d: %s is not a test function in the repository", file, i+1, name)
				}
			}
		}
	}
}

// TestReliabilityCatalogue checks docs/RELIABILITY.md against
// internal/reliability: its test table lists exactly the package's tests,
// and every case named in its other tables (last column) is a test or a
// subtest name the package declares.
func TestReliabilityCatalogue(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "docs", "RELIABILITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("internal", "reliability")
	funcs := testFuncs(t, root, dir)
	delete(funcs, "TestMain")
	var src strings.Builder
	paths, _ := filepath.Glob(filepath.Join(root, dir, "*_test.go"))
	for _, p := range paths {
		s, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(s)
	}
	var listed []string
	for _, tb := range parseTables("docs/RELIABILITY.md", string(b)) {
		switch {
		case tb.col("test") == 0:
			for _, r := range tb.rows {
				listed = append(listed, strings.Trim(r.cells[0], "`"))
			}
		case tb.col("test") == len(tb.header)-1:
			for _, r := range tb.rows {
				name := strings.Trim(r.cells[len(r.cells)-1], "` ")
				_, isFunc := funcs[name]
				if !isFunc && !strings.Contains(src.String(), `"`+name+`"`) {
					t.Errorf("docs/RELIABILITY.md:%d: case %q is neither a test nor a subtest name in %s", r.line, name, dir)
				}
			}
		}
	}
	var want []string
	for name := range funcs {
		want = append(want, name)
	}
	sort.Strings(want)
	sort.Strings(listed)
	if !slices.Equal(listed, want) {
		t.Errorf("docs/RELIABILITY.md test table lists %v; %s has %v", listed, dir, want)
	}
}
