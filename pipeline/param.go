package pipeline

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParamType is the type of a stage parameter as declared in its [Spec].
type ParamType int

// Parameter types. Values in a workflow file are checked against these.
const (
	String     ParamType = iota // a YAML string
	Int                         // an integer, stored as int64
	Float                       // a number, stored as float64
	Bool                        // true or false
	StringList                  // a YAML sequence of strings
	// Path is a local file or directory, or a URL. Local paths (plain, "dir:PATH"
	// or "file://PATH") are resolved against the launch directory and their
	// content digest, not their spelling, enters the cache key; URLs enter the
	// key as written. See [IsLocalSource].
	Path
)

func (t ParamType) String() string {
	switch t {
	case String:
		return "string"
	case Int:
		return "int"
	case Float:
		return "float"
	case Bool:
		return "bool"
	case StringList:
		return "list of strings"
	case Path:
		return "path"
	}
	return "unknown"
}

// Param declares one parameter of a stage kind.
type Param struct {
	Name    string    // snake_case key under `with:`
	Type    ParamType // value type
	Default any       // default value (int, float64, string, bool, []string); nil means required unless Optional
	Doc     string    // one-line description shown by `coderflow stages`
	Enum    []string  // allowed values for String params, if not empty
	// Min and Max bound Int and Float params when not nil.
	Min, Max *float64
	// NoCache marks params that do not change the output (worker counts,
	// log verbosity): they are left out of the cache key.
	NoCache bool
	// Optional lets a param without a default be absent (its value is then the
	// zero value of its type).
	Optional bool
	// Located marks a Path param whose place, not only its content, ends up
	// in the stage's output: a directory read in place whose absolute file
	// paths the artifact records (images tables, location.json). When the
	// value names a directory (dir:PATH, or a plain path to one), the cache
	// key covers its absolute location as well as its content digest, so
	// moving the data runs the stage again instead of leaving a cached
	// artifact that points at the old place. Files are copied or read whole,
	// so for them the content digest alone stays the key.
	Located bool
	// Set marks a StringList param whose order and repeats do not matter to
	// the stage: the cache key uses its sorted, deduplicated values, so
	// [hog, color] and [color, hog, hog] share one artifact.
	Set bool
	// SkipInputs marks a directory Path param that may hold the artifacts
	// of the stage's own inputs (a report's runs_dir pointing at the
	// workdir's cache of evaluate artifacts): their directories are left out
	// of its digest, so the key does not change once the inputs computed in
	// this run land there (the stage reads them as inputs anyway). Only the
	// direct inputs are left out: keys are computed before the run, so an
	// artifact of the same run that is not a direct input and lands in the
	// directory (a stage further upstream, or one that is not upstream at
	// all) is not in this run's key, and is in the next run's. Directories
	// that the engine renames aside while it deletes an artifact
	// (*.trash-*) are left out too.
	SkipInputs bool
	// MissingIsEmpty marks a directory Path param that may not exist yet
	// (a report's runs_dir at the workdir's cache of evaluate artifacts,
	// before the first evaluation): a local value that does not exist is
	// digested as an empty directory instead of being an error, and so is
	// an entry under it that does not exist when it is looked at (a dangling
	// symlink, or an artifact deleted while `status` walks the tree). The
	// stage must read it so too.
	MissingIsEmpty bool
}

// Bound returns a pointer to v, for [Param.Min] and [Param.Max].
func Bound(v float64) *float64 { return &v }

// Params holds the resolved values of a stage's params: defaults applied,
// types checked, `${...}` references substituted.
type Params struct {
	decl   map[string]Param
	values map[string]any
}

// errRequired is the error of a required param without a value.
var errRequired = errors.New("required parameter is missing")

// NewParams resolves raw values (as decoded from YAML or given in tests)
// against the declared params. It applies defaults and checks types, ranges
// and enums, and reports every problem joined in one error.
func NewParams(decl []Param, raw map[string]any) (Params, error) {
	p := Params{decl: map[string]Param{}, values: map[string]any{}}
	var errs []error
	for _, d := range decl {
		p.decl[d.Name] = d
	}
	for k := range raw {
		if _, ok := p.decl[k]; !ok {
			errs = append(errs, &paramError{Param: k, Err: fmt.Errorf("unknown parameter%s", didYouMean(k, paramNames(decl)))})
		}
	}
	for _, d := range decl {
		v, ok := raw[d.Name]
		if !ok || v == nil {
			switch {
			case d.Default != nil:
				v = d.Default
			case d.Optional:
				p.values[d.Name] = zeroOf(d.Type)
				continue
			default:
				errs = append(errs, &paramError{Param: d.Name, Err: errRequired})
				continue
			}
		}
		cv, err := convertParam(d, v)
		if err != nil {
			errs = append(errs, &paramError{Param: d.Name, Err: err})
			continue
		}
		p.values[d.Name] = cv
	}
	return p, joinErrs(errs)
}

// MustParams is [NewParams] that panics on error; for tests and examples.
func MustParams(decl []Param, raw map[string]any) Params {
	p, err := NewParams(decl, raw)
	if err != nil {
		panic(err)
	}
	return p
}

func zeroOf(t ParamType) any {
	switch t {
	case Int:
		return int64(0)
	case Float:
		return float64(0)
	case Bool:
		return false
	case StringList:
		return []string{}
	}
	return ""
}

func paramNames(decl []Param) []string {
	var n []string
	for _, d := range decl {
		n = append(n, d.Name)
	}
	return n
}

// convertParam converts v (from YAML, a --set string, or Go code) to the
// declared type.
func convertParam(d Param, v any) (any, error) {
	switch d.Type {
	case Int:
		var n int64
		switch x := v.(type) {
		case int:
			n = int64(x)
		case int64:
			n = x
		case int32:
			n = int64(x)
		case float64:
			if x != math.Trunc(x) {
				return nil, fmt.Errorf("want an integer, got %v", x)
			}
			if x < math.MinInt64 || x >= math.MaxInt64 { // float64(MaxInt64) is 2^63, out of range
				return nil, fmt.Errorf("want an integer, got %v (out of the int64 range)", x)
			}
			n = int64(x)
		case string:
			i, err := parseIntLikeYAML(x)
			if err != nil {
				return nil, fmt.Errorf("want an integer, got %q", x)
			}
			n = i
		default:
			return nil, fmt.Errorf("want an integer, got %s", describe(v))
		}
		if err := checkRange(d, float64(n)); err != nil {
			return nil, err
		}
		return n, nil
	case Float:
		var f float64
		switch x := v.(type) {
		case int:
			f = float64(x)
		case int64:
			f = float64(x)
		case float64:
			f = x
		case float32:
			f = float64(x)
		case string:
			g, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				return nil, fmt.Errorf("want a number, got %q", x)
			}
			f = g
		default:
			return nil, fmt.Errorf("want a number, got %s", describe(v))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("want a finite number, got %v", f)
		}
		if err := checkRange(d, f); err != nil {
			return nil, err
		}
		return f, nil
	case Bool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err != nil {
				return nil, fmt.Errorf("want true or false, got %q", x)
			}
			return b, nil
		}
		return nil, fmt.Errorf("want true or false, got %s", describe(v))
	case StringList:
		switch x := v.(type) {
		case []string:
			return append([]string(nil), x...), nil
		case []any:
			out := make([]string, 0, len(x))
			for i, e := range x {
				s, ok := scalarString(e)
				if !ok {
					return nil, fmt.Errorf("item %d: want a string, got %s", i, describe(e))
				}
				out = append(out, s)
			}
			return out, nil
		case string:
			// --set s.p=a,b,c
			if strings.TrimSpace(x) == "" {
				return []string{}, nil
			}
			parts := strings.Split(x, ",")
			for i := range parts {
				parts[i] = strings.TrimSpace(parts[i])
			}
			return parts, nil
		}
		return nil, fmt.Errorf("want a list of strings, got %s", describe(v))
	default: // String, Path
		s, ok := scalarString(v)
		if !ok {
			return nil, fmt.Errorf("want a string, got %s", describe(v))
		}
		if len(d.Enum) > 0 && !contains(d.Enum, s) {
			return nil, fmt.Errorf("%q is not one of %s%s", s, strings.Join(d.Enum, ", "), didYouMean(s, d.Enum))
		}
		return s, nil
	}
}

func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int, int64, float64, bool:
		return fmt.Sprint(x), true
	}
	return "", false
}

func checkRange(d Param, f float64) error {
	if d.Min != nil && f < *d.Min {
		return fmt.Errorf("%v is below the minimum %v", f, *d.Min)
	}
	if d.Max != nil && f > *d.Max {
		return fmt.Errorf("%v is above the maximum %v", f, *d.Max)
	}
	return nil
}

func describe(v any) string {
	switch v.(type) {
	case []any, []string:
		return "a list"
	case map[string]any:
		return "a mapping"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%T %v", v, v)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p Params) get(name string, t ParamType) any {
	d, ok := p.decl[name]
	if !ok {
		panic(fmt.Sprintf("pipeline: param %q is not declared", name))
	}
	if d.Type != t && !(t == String && d.Type == Path) {
		panic(fmt.Sprintf("pipeline: param %q is %s, read as %s", name, d.Type, t))
	}
	return p.values[name]
}

// Int returns an Int param. It panics if name is not a declared Int param:
// that is a bug in the stage, not bad user input.
func (p Params) Int(name string) int { return int(p.get(name, Int).(int64)) }

// Float returns a Float param.
func (p Params) Float(name string) float64 { return p.get(name, Float).(float64) }

// String returns a String (or Path) param.
func (p Params) String(name string) string { return p.get(name, String).(string) }

// Bool returns a Bool param.
func (p Params) Bool(name string) bool { return p.get(name, Bool).(bool) }

// Strings returns a StringList param.
func (p Params) Strings(name string) []string {
	return append([]string(nil), p.get(name, StringList).([]string)...)
}

// Path returns a Path param. Local paths have been made absolute by the
// engine, keeping a "dir:" or "file://" prefix if one was written.
func (p Params) Path(name string) string { return p.get(name, Path).(string) }

// Map returns every resolved value by name (a copy).
func (p Params) Map() map[string]any {
	m := make(map[string]any, len(p.values))
	for k, v := range p.values {
		m[k] = v
	}
	return m
}

// Decl returns the declaration of name.
func (p Params) Decl(name string) (Param, bool) { d, ok := p.decl[name]; return d, ok }

// Names returns the declared names, sorted.
func (p Params) Names() []string {
	var n []string
	for k := range p.decl {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// IsLocalSource reports whether a Path value names a local file or directory
// and returns its filesystem path ("dir:PATH", "file://PATH" or a plain path).
// URLs such as https://... are not local; a path that only contains "://"
// further on (/data/exp://cache, from ${workdir}) is.
func IsLocalSource(v string) (string, bool) {
	switch {
	case v == "":
		return "", false
	case strings.HasPrefix(v, "dir:"):
		return strings.TrimPrefix(v, "dir:"), true
	case strings.HasPrefix(v, "file://"):
		return strings.TrimPrefix(v, "file://"), true
	case urlRe.MatchString(v):
		return "", false
	case v == "embedded" || strings.HasPrefix(v, "embedded:"):
		return "", false
	}
	return v, true
}

// urlRe matches the scheme of a URL (RFC 3986: a letter, then letters,
// digits, "+", "-" or ".") and "://".
var urlRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// absSource makes a local Path value absolute against base, keeping its
// prefix. A leading "~" or "~/" is the user's home directory, as a shell
// would expand it (YAML and a quoted --set value are not expanded by one).
func absSource(v, base string) string {
	p, ok := IsLocalSource(v)
	if !ok || filepath.IsAbs(p) {
		return v
	}
	abs := filepath.Join(base, p)
	if h, ok := expandHome(p); ok {
		abs = h
	}
	switch {
	case strings.HasPrefix(v, "dir:"):
		return "dir:" + abs
	case strings.HasPrefix(v, "file://"):
		return "file://" + abs
	}
	return abs
}

// expandHome returns p with a leading "~" or "~/" replaced by the user's
// home directory, and whether it had one (and the home directory is known).
// "~user/..." is not expanded.
func expandHome(p string) (string, bool) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, false
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return p, false
	}
	return filepath.Join(home, p[1:]), true
}

// parseIntLikeYAML parses a --set value as the YAML parser reads the same
// text in a workflow file (0x10, 0o10, 1_000, and 010 as octal 8), so that a
// value means the same number on the command line and in the file.
func parseIntLikeYAML(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil && !(len(s) > 1 && s[0] == '0') {
		return i, nil
	}
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), nil
		}
	case float64:
		// 1e3 or 1000.0: a whole number in the file's float spelling,
		// which an int param takes there too
		if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
			return int64(x), nil
		}
	}
	return 0, fmt.Errorf("not an integer: %q", s)
}
