package train

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// paramRowRE matches a row of a params table in docs/train-stage.md:
// | `name` | type | default | bounds | meaning |
var paramRowRE = regexp.MustCompile("^\\| `(\\w+)` \\|([^|]+)\\|([^|]+)\\|([^|]*)\\|(.+)\\|$")

// TestParamsDocumented: the params tables of docs/train-stage.md list
// exactly the params of train.coder and embed, each with its type,
// default, whether it is in the cache key, and its declared bounds (Min,
// Max, Enum).
func TestParamsDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/train-stage.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	trainAt := strings.Index(doc, "### Params")
	embedAt := strings.Index(doc, "## `embed`")
	testsAt := strings.Index(doc, "## Tests")
	if trainAt < 0 || embedAt < trainAt || testsAt < embedAt {
		t.Fatal("docs/train-stage.md: sections ### Params, ## `embed`, ## Tests not found in that order")
	}
	for _, tc := range []struct {
		spec    *pipeline.Spec
		section string
	}{{&TrainSpec, doc[trainAt:embedAt]}, {&EmbedSpec, doc[embedAt:testsAt]}} {
		t.Run(tc.spec.Kind, func(t *testing.T) {
			rows := map[string][]string{}
			for _, line := range strings.Split(tc.section, "\n") {
				if m := paramRowRE.FindStringSubmatch(line); m != nil {
					rows[m[1]] = m[2:]
				}
			}
			for _, p := range tc.spec.Params {
				r, ok := rows[p.Name]
				if !ok {
					t.Errorf("param %s is not documented", p.Name)
					continue
				}
				delete(rows, p.Name)
				typ, def, bounds := strings.TrimSpace(r[0]), strings.TrimSpace(r[1]), strings.TrimSpace(r[2])
				if typ != p.Type.String() {
					t.Errorf("%s: documented type %q, declared %s", p.Name, typ, p.Type)
				}
				wantDef := fmt.Sprint(p.Default)
				if p.NoCache {
					wantDef += " (not in key)"
				}
				if def != wantDef {
					t.Errorf("%s: documented default %q, declared %q", p.Name, def, wantDef)
				}
				var want []string // accepted bounds prefixes
				switch {
				case len(p.Enum) > 0:
					want = []string{strings.Join(p.Enum, ", ")}
				case p.Min != nil && p.Max != nil:
					want = []string{fmt.Sprintf("%v-%v", *p.Min, *p.Max)}
				case p.Min != nil:
					// "> m": m itself is refused by the config's Validate
					want = []string{fmt.Sprintf(">= %v", *p.Min), fmt.Sprintf("> %v", *p.Min)}
				case p.Max != nil:
					want = []string{fmt.Sprintf("<= %v", *p.Max)}
				}
				if len(want) == 0 && bounds != "" {
					t.Errorf("%s: documented bounds %q, none declared", p.Name, bounds)
				}
				if len(want) > 0 && !hasAnyPrefix(bounds, want) {
					t.Errorf("%s: documented bounds %q, declared %q", p.Name, bounds, want)
				}
			}
			for name := range rows {
				t.Errorf("documented param %s is not a param of %s", name, tc.spec.Kind)
			}
		})
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if s == p || strings.HasPrefix(s, p+";") || strings.HasPrefix(s, p+" ") {
			return true
		}
	}
	return false
}
