package docscheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"coderflow/pipeline"
	_ "coderflow/stages/all" // every stage kind the CLI registers
)

// notStageDocs are files under docs/ that are generated or measured, not
// stage documentation.
var notStageDocs = map[string]bool{"BENCHMARKS.md": true, "RESULTS.md": true}

// pendingTypeColumn lists stage docs known to lack a `type` column in their
// param table, with the reason they are not fixed here. Their names and
// defaults are still checked. Remove an entry once its doc has the column.
var pendingTypeColumn = map[string]string{
	"docs/features.md": "owned by the features engineer; the lead is asked to add a type column",
}

// stageDocs returns the Markdown files of docs/ (not its subdirectories)
// that document stage kinds, keyed by their path relative to the root.
func stageDocs(t *testing.T, root string) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	for _, p := range paths {
		if notStageDocs[filepath.Base(p)] {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		docs["docs/"+filepath.Base(p)] = string(b)
	}
	if len(docs) == 0 {
		t.Fatalf("no stage docs found in %s/docs", root)
	}
	return docs
}

// docRow is one documented param.
type docRow struct {
	where   string // file:line
	name    string
	typ     string // "" when the table has no type column
	hasType bool
	def     string
	meaning string
}

// paramTable reports whether tb documents stage params: its first column is
// `param` (or `parameter`).
func paramTable(tb *mdTable) bool {
	return len(tb.header) > 0 && tb.col("param", "parameter") == 0
}

// tableKind returns the stage kind a param table documents: the one kind
// named in a code span of the nearest enclosing heading that names any.
func tableKind(tb *mdTable, kinds map[string]bool) (string, error) {
	for i := len(tb.headings) - 1; i >= 0; i-- {
		var named []string
		for _, s := range codeSpans(tb.headings[i].text) {
			if kinds[s] && !slices.Contains(named, s) {
				named = append(named, s)
			}
		}
		switch len(named) {
		case 0:
			continue
		case 1:
			return named[0], nil
		default:
			return "", fmt.Errorf("%s:%d: param table under heading %q, which names several stage kinds %v: put each kind's table under its own heading",
				tb.file, tb.line, tb.headings[i].text, named)
		}
	}
	return "", fmt.Errorf("%s:%d: param table under no heading that names a registered stage kind in `code` (headings %v)", tb.file, tb.line, tb.headings)
}

// documentedParams collects the param rows of every stage doc by kind.
func documentedParams(docs map[string]string, kinds map[string]bool) (map[string]map[string]docRow, []error) {
	out := map[string]map[string]docRow{}
	var errs []error
	files := make([]string, 0, len(docs))
	for f := range docs {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		for _, tb := range parseTables(f, docs[f]) {
			if !paramTable(&tb) {
				continue
			}
			kind, err := tableKind(&tb, kinds)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			defCol := tb.col("default")
			typCol := tb.col("type")
			meanCol := tb.col("meaning", "description", "doc")
			if defCol < 0 {
				errs = append(errs, fmt.Errorf("%s:%d: param table of %s has no default column", tb.file, tb.line, kind))
				continue
			}
			if typCol < 0 {
				if _, ok := pendingTypeColumn[tb.file]; !ok {
					errs = append(errs, fmt.Errorf("%s:%d: param table of %s has no type column (want | param | type | default | meaning |)", tb.file, tb.line, kind))
				}
			}
			if out[kind] == nil {
				out[kind] = map[string]docRow{}
			}
			for _, r := range tb.rows {
				where := fmt.Sprintf("%s:%d", tb.file, r.line)
				cell := func(i int) string {
					if i < 0 || i >= len(r.cells) {
						return ""
					}
					return r.cells[i]
				}
				spans := codeSpans(cell(0))
				name := strings.TrimSpace(strings.Trim(cell(0), "`"))
				if len(spans) == 1 {
					name = spans[0]
				}
				if len(spans) > 1 || strings.ContainsAny(name, " /,") {
					errs = append(errs, fmt.Errorf("%s: %s: want one param name per row, got %q", where, kind, cell(0)))
					continue
				}
				if prev, dup := out[kind][name]; dup {
					errs = append(errs, fmt.Errorf("%s: %s param %q documented twice (also %s)", where, kind, name, prev.where))
					continue
				}
				out[kind][name] = docRow{where: where, name: name, typ: cell(typCol), hasType: typCol >= 0,
					def: cell(defCol), meaning: cell(meanCol)}
			}
		}
	}
	return out, errs
}

// TestParamTablesMatchRegistry checks every stage kind registered by
// stages/all against the param tables in docs/: every registered param is
// documented, every documented param is registered, and the documented type
// and default match the registration (what `coderflow stages KIND` prints).
func TestParamTablesMatchRegistry(t *testing.T) {
	root := repoRoot(t)
	docs := stageDocs(t, root)
	kinds := map[string]bool{}
	for _, k := range pipeline.Default.Kinds() {
		kinds[k] = true
	}
	if len(kinds) == 0 {
		t.Fatal("no stage kinds registered: stages/all imports nothing?")
	}
	documented, errs := documentedParams(docs, kinds)
	for _, err := range errs {
		t.Error(err)
	}
	for _, kind := range pipeline.Default.Kinds() {
		spec, _ := pipeline.Default.Lookup(kind)
		rows := documented[kind]
		if rows == nil {
			if len(spec.Params) > 0 {
				t.Errorf("%s: no param table in docs/ (want a `| param | type | default | meaning |` table under a heading naming `%s`); registered: %s",
					kind, kind, registeredList(spec.Params))
			}
			continue
		}
		for _, p := range spec.Params {
			r, ok := rows[p.Name]
			if !ok {
				t.Errorf("%s: param %q (%s, %s) is registered but not documented", kind, p.Name, p.Type, fmtDefault(p))
				continue
			}
			if r.hasType {
				if err := checkType(p, r.typ); err != nil {
					t.Errorf("%s: %s param %q: %v", r.where, kind, p.Name, err)
				}
			}
			if err := checkDefault(p, r.def); err != nil {
				t.Errorf("%s: %s param %q: %v", r.where, kind, p.Name, err)
			}
			if notInKeyRE.MatchString(r.def+" "+r.meaning) && !p.NoCache {
				t.Errorf("%s: %s param %q: documented as not in the cache key, but it is registered without NoCache", r.where, kind, p.Name)
			}
		}
		for name, r := range rows {
			if !slices.ContainsFunc(spec.Params, func(p pipeline.Param) bool { return p.Name == name }) {
				t.Errorf("%s: %s param %q is documented but not registered (registered: %s)", r.where, kind, name, registeredList(spec.Params))
			}
		}
	}
	for kind := range documented {
		if !kinds[kind] {
			t.Errorf("param table for unregistered kind %q", kind)
		}
	}
}

var notInKeyRE = regexp.MustCompile(`(?i)\bnot (part of|in) (the )?(cache )?key\b`)

func registeredList(ps []pipeline.Param) string {
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

// fmtDefault formats a param's default as `coderflow stages` does (strings
// quoted, so that an empty default shows).
func fmtDefault(p pipeline.Param) string {
	switch {
	case p.Default != nil:
		if s, ok := p.Default.(string); ok {
			return fmt.Sprintf("default %q", s)
		}
		return fmt.Sprintf("default %v", p.Default)
	case p.Optional:
		return "optional"
	}
	return "required"
}

var typeWords = map[string]pipeline.ParamType{
	"int":     pipeline.Int,
	"integer": pipeline.Int,
	"float":   pipeline.Float,
	"number":  pipeline.Float,
	"string":  pipeline.String,
	"bool":    pipeline.Bool,
	"boolean": pipeline.Bool,
	"path":    pipeline.Path,
}

var (
	leadingWordRE = regexp.MustCompile(`^[a-z]+`)
	enumSepRE     = regexp.MustCompile(`\s*(?:[,|/]|\bor\b)\s*`)
)

// checkType compares a documented type cell with the registered type. The
// cell starts with the type's name (`int ≥ 1`, `list of strings`, `path`),
// or, for a string param with allowed values, lists exactly those values
// (`zstd, snappy, gzip, none` or `bulk` | `quadwriter`).
func checkType(p pipeline.Param, cell string) error {
	c := strings.ToLower(strings.TrimSpace(strings.ReplaceAll(cell, "`", "")))
	if strings.HasPrefix(c, "list") {
		if p.Type != pipeline.StringList {
			return fmt.Errorf("documented type %q, registered %s", cell, p.Type)
		}
		return nil
	}
	if typ, ok := typeWords[leadingWordRE.FindString(c)]; ok {
		if typ != p.Type {
			return fmt.Errorf("documented type %q, registered %s", cell, p.Type)
		}
		return checkBounds(p, cell, c)
	}
	var vals []string
	for _, v := range enumSepRE.Split(c, -1) {
		if v = strings.Trim(v, `"' `); v != "" {
			vals = append(vals, v)
		}
	}
	enum := append([]string(nil), p.Enum...)
	sort.Strings(vals)
	sort.Strings(enum)
	if p.Type == pipeline.String && len(enum) > 0 && slices.Equal(vals, enum) {
		return nil
	}
	if len(enum) > 0 {
		return fmt.Errorf("documented type %q, registered %s, one of %s", cell, p.Type, strings.Join(p.Enum, "|"))
	}
	return fmt.Errorf("documented type %q, registered %s", cell, p.Type)
}

var (
	numPat   = `(-?\d[\d,_]*(?:\.\d+)?(?:e-?\d+)?)`
	minRE    = regexp.MustCompile(`(?:≥|>=)\s*` + numPat)
	maxRE    = regexp.MustCompile(`(?:≤|<=)\s*` + numPat)
	rangeRE  = regexp.MustCompile(numPat + `\s+to\s+` + numPat)
	boundFmt = func(b *float64) string {
		if b == nil {
			return "none"
		}
		return strconv.FormatFloat(*b, 'g', -1, 64)
	}
)

// checkBounds compares the bounds a type cell states (`int ≥ 1`,
// `float, 0 to 0.9`, `int ≤ 36`) with the registered Min and Max. A cell
// that states none is not checked.
func checkBounds(p pipeline.Param, cell, c string) error {
	var lo, hi string
	if m := rangeRE.FindStringSubmatch(c); m != nil {
		lo, hi = m[1], m[2]
	}
	if m := minRE.FindStringSubmatch(c); m != nil {
		lo = m[1]
	}
	if m := maxRE.FindStringSubmatch(c); m != nil {
		hi = m[1]
	}
	for _, b := range []struct {
		doc  string
		reg  *float64
		what string
	}{{lo, p.Min, "minimum"}, {hi, p.Max, "maximum"}} {
		if b.doc == "" {
			continue
		}
		v, err := strconv.ParseFloat(stripDigitSeparators(b.doc), 64)
		if err != nil || b.reg == nil || v != *b.reg {
			return fmt.Errorf("documented type %q states %s %s, registered %s", cell, b.what, b.doc, boundFmt(b.reg))
		}
	}
	return nil
}

var (
	trailingParenRE = regexp.MustCompile(`^(.*\S)\s*\([^()]*\)$`)
	// noValue are the spellings of "no default" in a default cell.
	noValue = map[string]bool{"": true, "–": true, "—": true, "-": true, "(none)": true, "(unset)": true, "(empty)": true}
)

// checkDefault compares a documented default cell with the registered
// default. Code spans and a trailing parenthetical (`0 (= CPUs)`) are
// ignored; numbers may have thousands separators; lists are written
// `[a, b]`; an optional param without a default is `–` or `(none)`.
func checkDefault(p pipeline.Param, cell string) error {
	c := strings.TrimSpace(strings.ReplaceAll(cell, "`", ""))
	for {
		m := trailingParenRE.FindStringSubmatch(c)
		if m == nil {
			break
		}
		c = strings.TrimSpace(m[1])
	}
	mismatch := func() error {
		return fmt.Errorf("documented default %q, registered %s", cell, fmtDefault(p))
	}
	switch d := p.Default.(type) {
	case nil:
		if p.Optional && noValue[c] || !p.Optional && strings.EqualFold(c, "required") {
			return nil
		}
		return mismatch()
	case int, int64, int32:
		n, err := strconv.ParseInt(stripDigitSeparators(c), 10, 64)
		if err != nil || n != reflectInt(d) {
			return mismatch()
		}
	case float64, float32:
		f, err := strconv.ParseFloat(stripDigitSeparators(c), 64)
		if err != nil || f != reflectFloat(d) {
			return mismatch()
		}
	case bool:
		b, err := strconv.ParseBool(strings.ToLower(c))
		if err != nil || b != d {
			return mismatch()
		}
	case string:
		if d == "" {
			if noValue[c] || c == `""` {
				return nil
			}
			return mismatch()
		}
		if unquote(c) != d {
			return mismatch()
		}
	case []string:
		if !strings.HasPrefix(c, "[") || !strings.HasSuffix(c, "]") {
			return mismatch()
		}
		var got []string
		for _, v := range strings.Split(c[1:len(c)-1], ",") {
			if v = unquote(strings.TrimSpace(v)); v != "" {
				got = append(got, v)
			}
		}
		if !slices.Equal(got, d) && !(len(got) == 0 && len(d) == 0) {
			return mismatch()
		}
	default:
		return fmt.Errorf("registered default %#v of unexpected Go type %T", p.Default, p.Default)
	}
	return nil
}

func stripDigitSeparators(s string) string {
	return strings.NewReplacer(",", "", "_", "", "\u202f", "", "\u2009", "").Replace(s)
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

func reflectInt(v any) int64 {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	}
	panic(fmt.Sprintf("not an int: %T", v))
}

func reflectFloat(v any) float64 {
	switch x := v.(type) {
	case float32:
		return float64(x)
	case float64:
		return x
	}
	panic(fmt.Sprintf("not a float: %T", v))
}

// TestCheckers makes sure the comparison rules accept harmless wording and
// reject real mismatches.
func TestCheckers(t *testing.T) {
	intP := pipeline.Param{Name: "n", Type: pipeline.Int, Default: 50000000}
	floatP := pipeline.Param{Name: "f", Type: pipeline.Float, Default: 0.0002}
	enumP := pipeline.Param{Name: "c", Type: pipeline.String, Default: "zstd", Enum: []string{"zstd", "snappy", "gzip", "none"}}
	listP := pipeline.Param{Name: "l", Type: pipeline.StringList, Default: []string{"train", "restval"}}
	emptyList := pipeline.Param{Name: "e", Type: pipeline.StringList, Default: []string{}}
	optP := pipeline.Param{Name: "o", Type: pipeline.Path, Optional: true}
	emptyS := pipeline.Param{Name: "s", Type: pipeline.String, Default: ""}
	boolP := pipeline.Param{Name: "b", Type: pipeline.Bool, Default: true}
	tests := []struct {
		p         pipeline.Param
		typ, def  string
		okT, okDf bool
	}{
		{intP, "integer", "50,000,000", true, true},
		{intP, "int", "`50000000` (the header limit)", true, true},
		{intP, "float", "5000000", false, false},
		{floatP, "float", "2e-4", true, true},
		{floatP, "number", "0.002", true, false},
		{enumP, "zstd, snappy, gzip, none", "`zstd`", true, true},
		{enumP, "`zstd` or `snappy`", "zstd", false, true},
		{enumP, "string", "snappy", true, false},
		{listP, "list of strings", "`[train, restval]`", true, true},
		{listP, "list", "[restval, train]", true, false},
		{emptyList, "list", "`[]` (all)", true, true},
		{emptyList, "string", "[x]", false, false},
		{optP, "path", "–", true, true},
		{optP, "path", "(none)", true, true},
		{optP, "string", "x", false, false},
		{emptyS, "string", `""`, true, true},
		{emptyS, "string", "`coderflow report: <stage>`", true, false},
		{boolP, "bool", "true", true, true},
		{boolP, "bool", "false", true, false},
		{pipeline.Param{Name: "m", Type: pipeline.Int, Default: 4, Min: pipeline.Bound(1)}, "int ≥ 1", "4", true, true},
		{pipeline.Param{Name: "m", Type: pipeline.Int, Default: 4, Min: pipeline.Bound(1)}, "int ≥ 0", "4", false, true},
		{pipeline.Param{Name: "m", Type: pipeline.Int, Default: 4}, "int ≥ 1", "4", false, true},
		{pipeline.Param{Name: "r", Type: pipeline.Float, Default: 0.1, Min: pipeline.Bound(0), Max: pipeline.Bound(0.9)}, "float, 0 to 0.9", "0.1", true, true},
		{pipeline.Param{Name: "r", Type: pipeline.Float, Default: 0.1, Min: pipeline.Bound(0), Max: pipeline.Bound(0.9)}, "float, 0 to 1", "0.1", false, true},
		{pipeline.Param{Name: "i", Type: pipeline.Int, Default: 2000, Min: pipeline.Bound(1), Max: pipeline.Bound(1e7)}, "int, 1 to 10,000,000", "2000", true, true},
	}
	for _, tc := range tests {
		if err := checkType(tc.p, tc.typ); (err == nil) != tc.okT {
			t.Errorf("checkType(%s %s, %q) = %v, want ok=%v", tc.p.Name, tc.p.Type, tc.typ, err, tc.okT)
		}
		if err := checkDefault(tc.p, tc.def); (err == nil) != tc.okDf {
			t.Errorf("checkDefault(%s %v, %q) = %v, want ok=%v", tc.p.Name, tc.p.Default, tc.def, err, tc.okDf)
		}
	}
}

// TestREADMETablesList checks that README's list of tables ("The tables
// (schemas in ...): ...") names every table a registered kind produces.
func TestREADMETablesList(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var para string
	for _, p := range strings.Split(string(b), "\n\n") {
		if strings.HasPrefix(p, "The tables") {
			para = p
			break
		}
	}
	if para == "" {
		t.Fatal(`README.md: no paragraph starting "The tables"`)
	}
	words := map[string]bool{}
	for _, w := range regexp.MustCompile(`[a-z][a-z0-9_]*`).FindAllString(para, -1) {
		words[w] = true
	}
	for _, kind := range pipeline.Default.Kinds() {
		spec, _ := pipeline.Default.Lookup(kind)
		for _, tbl := range spec.Produces {
			if !words[tbl] {
				t.Errorf("README.md table list does not name %q (produced by %s)", tbl, kind)
			}
		}
	}
}
