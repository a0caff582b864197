package pipeline_test

import (
	"errors"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// TestReferencesOutsideValuesAreNamedAsWritten: ${...} is only read in
// `with:` values and workflow params. One written in `uses`, `needs`, a
// `with:` key or a stage id must be reported as the user wrote it (the
// parser's internal "$(...)" spelling must not leak into the message), and
// in uses/needs as an unresolved reference rather than an unknown name.
func TestReferencesOutsideValuesAreNamedAsWritten(t *testing.T) {
	for _, tc := range []struct {
		name, wf   string
		unresolved bool
	}{
		{"uses", "name: x\nparams: {k: toy.source}\nstages:\n  a:\n    uses: ${params.k}\n", true},
		{"needs", "name: x\nparams: {k: a}\nstages:\n  a:\n    uses: toy.source\n  b:\n    uses: toy.concat\n    needs: [${params.k}]\n", true},
		{"needs scalar", "name: x\nparams: {k: a}\nstages:\n  a:\n    uses: toy.source\n  b:\n    uses: toy.concat\n    needs: ${params.k}\n", true},
		{"with key", "name: x\nparams: {k: n}\nstages:\n  a:\n    uses: toy.source\n    with: {${params.k}: 1}\n", false},
		{"stage id", "name: x\nparams: {k: n}\nstages:\n  ${params.k}:\n    uses: toy.source\n", false},
	} {
		_, err := pipeline.LoadBytes("x.yaml", []byte(tc.wf), pipeline.LoadOptions{Registry: toyRegistry(), BaseDir: t.TempDir()})
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "${params.k}") || strings.Contains(msg, "$(") {
			t.Errorf("%s: %v; want the reference as written, ${params.k}", tc.name, err)
		}
		if tc.unresolved && !errors.Is(err, pipeline.ErrUnresolved) {
			t.Errorf("%s: %v; want ErrUnresolved", tc.name, err)
		}
	}
}
