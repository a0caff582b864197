package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	goyaml "github.com/goccy/go-yaml"
	goyamlparser "github.com/goccy/go-yaml/parser"
	"go.yaml.in/yaml/v3"
)

// Pos is a position in a workflow file, 1-based.
type Pos struct {
	File         string
	Line, Column int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// A SpecError reports a problem at a position in a workflow file.
type SpecError struct {
	Pos   Pos
	Stage string // stage id, if any
	Field string // dotted path, e.g. "with.max_len"
	Err   error
}

func (e *SpecError) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	if e.Stage != "" {
		fmt.Fprintf(&b, "stage %q: ", e.Stage)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *SpecError) Unwrap() error { return e.Err }

// Sentinel errors wrapped by [SpecError]; test with errors.Is.
var (
	// ErrUnknownKind is returned when `uses` names no registered stage kind.
	ErrUnknownKind = errors.New("unknown stage kind")
	// ErrUnknownStage is returned when `needs`, --only, --from, --until,
	// --force or --set name a stage the workflow does not have.
	ErrUnknownStage = errors.New("unknown stage")
	// ErrCycle is returned when `needs` form a cycle.
	ErrCycle = errors.New("dependency cycle")
	// ErrUnknownParam is returned for a `with` key the stage kind does not declare.
	ErrUnknownParam = errors.New("unknown parameter")
	// ErrBadValue is returned for a param value of the wrong type or out of range.
	ErrBadValue = errors.New("bad value")
	// ErrUnresolved is returned for a `${...}` reference that names nothing.
	ErrUnresolved = errors.New("unresolved reference")
	// ErrDuplicate is returned for a stage id or key given twice.
	ErrDuplicate = errors.New("duplicate")
)

// stageSpec is one entry under `stages:` as written in the file.
type stageSpec struct {
	ID       string
	Pos      Pos
	Uses     string
	UsesPos  Pos
	Needs    []string
	NeedsPos []Pos
	With     map[string]*yaml.Node // raw values, substitution applied later
	WithKeys []string              // in file order
	WithPos  map[string]Pos        // key positions
}

// fileSpec is a workflow file as written.
type fileSpec struct {
	File      string
	Name      string
	Workdir   string
	Params    map[string]*yaml.Node
	ParamKeys []string
	ParamPos  map[string]Pos
	Stages    []*stageSpec
	mark      refMarker // how ${...} references were protected while parsing
	// workdir is the absolute workdir, the value of ${workdir} references
	// (set by [LoadBytes] once it is resolved).
	workdir string
	// inParams is set in the scope of workflow params' values.
	inParams bool
}

// paramScope is the scope workflow params are resolved in: ${workdir} but
// no ${params.NAME} (workflow params cannot reference params).
func (fs *fileSpec) paramScope() *fileSpec {
	return &fileSpec{Params: map[string]*yaml.Node{}, mark: fs.mark, workdir: fs.workdir, inParams: true}
}

func posOf(file string, n *yaml.Node) Pos { return Pos{File: file, Line: n.Line, Column: n.Column} }

// emptyDocument reports whether a YAML document holds nothing (a trailing
// "---" or "..." left by an editor or a generator).
func emptyDocument(d *yaml.Node) bool {
	if len(d.Content) == 0 {
		return true
	}
	n := d.Content[0]
	return len(d.Content) == 1 && n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == ""
}

// parseFile parses workflow YAML, keeping positions. It reports every
// structural problem it can find in one pass.
func parseFile(file string, data []byte) (*fileSpec, error) {
	var doc yaml.Node
	mark, ok := chooseRefMarker(data)
	if !ok {
		return nil, &SpecError{Pos: Pos{File: file, Line: 1, Column: 1},
			Err: errors.New(`the file uses "$(", "$<", "$^" and "$~" all as text: coderflow needs one of them to read ${...} references`)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(mark.protect(data)))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlSyntaxError(file, mark.protect(data), err)
	}
	// yaml.Unmarshal reads the first document only: the stages of a
	// second one (after "---") would be silently left out
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case errors.Is(err, io.EOF), err == nil && emptyDocument(&more):
	case err != nil:
		return nil, yamlSyntaxError(file, mark.protect(data), err)
	default:
		return nil, &SpecError{Pos: posOf(file, &more), Err: errors.New("a second YAML document (after ---): a workflow file holds one; merge them or use two files")}
	}
	fs := &fileSpec{File: file, Params: map[string]*yaml.Node{}, ParamPos: map[string]Pos{}, mark: mark}
	budget := maxExpandedNodes
	expanded, err := expandAliases(&doc, &budget)
	if err != nil {
		return nil, &SpecError{Pos: Pos{File: file, Line: 1, Column: 1}, Err: err}
	}
	doc = *expanded
	if len(doc.Content) == 0 {
		return nil, &SpecError{Pos: Pos{File: file, Line: 1, Column: 1}, Err: errors.New("empty workflow file")}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &SpecError{Pos: posOf(file, root), Err: errors.New("a workflow must be a mapping with name, params and stages")}
	}
	var errs []error
	bad := func(n *yaml.Node, stage, field string, err error) {
		errs = append(errs, &SpecError{Pos: posOf(file, n), Stage: stage, Field: field, Err: err})
	}
	seenTop := map[string]bool{}
	var stagesNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seenTop[k.Value] {
			bad(k, "", k.Value, fmt.Errorf("%w key", ErrDuplicate))
			continue
		}
		seenTop[k.Value] = true
		switch k.Value {
		case "name":
			if v.Kind != yaml.ScalarNode || !nameRe.MatchString(v.Value) {
				bad(v, "", "name", errors.New("want a name of letters, digits, '-', '_' and '.'"))
			}
			fs.Name = v.Value
		case "workdir":
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				bad(v, "", "workdir", errors.New("want a directory path"))
			} else if strings.Contains(mark.restore(v), "${") {
				// protected while parsing, a reference would otherwise
				// become a directory literally named "$(workdir)"
				bad(v, "", "workdir", fmt.Errorf("%w %s: references are not supported in workdir: (${workdir} is its value; "+
					"use --workdir or CODERFLOW_WORKDIR for a computed one)", ErrUnresolved, mark.restore(v)))
			}
			fs.Workdir = v.Value
		case "params":
			if v.Kind != yaml.MappingNode {
				bad(v, "", "params", errors.New("want a mapping of name: value"))
				continue
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				pk, pv := v.Content[j], v.Content[j+1]
				if _, dup := fs.Params[pk.Value]; dup {
					bad(pk, "", "params."+pk.Value, fmt.Errorf("%w key", ErrDuplicate))
					continue
				}
				if pv.Kind != yaml.ScalarNode && pv.Kind != yaml.SequenceNode {
					bad(pv, "", "params."+pk.Value, errors.New("want a scalar or a list"))
					continue
				}
				fs.Params[pk.Value] = pv
				fs.ParamKeys = append(fs.ParamKeys, pk.Value)
				fs.ParamPos[pk.Value] = posOf(file, pk)
			}
		case "stages":
			stagesNode = v
		default:
			bad(k, "", k.Value, fmt.Errorf("unknown top-level key%s (want name, workdir, params, stages)",
				didYouMean(k.Value, []string{"name", "workdir", "params", "stages"})))
		}
	}
	if fs.Name == "" && !seenTop["name"] {
		fs.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
		if fs.Name == "" || fs.Name == "." || fs.Name == ".." {
			// runs/<name>/ would be runs/ itself (where gc and the
			// killed-run check look for workflows' directories, not
			// records) or the workdir
			errs = append(errs, &SpecError{Pos: Pos{File: file, Line: 1, Column: 1}, Field: "name",
				Err: fmt.Errorf("the file name %q gives the workflow no name (its run records go to runs/NAME/): add `name: NAME`", filepath.Base(file))})
		}
	}
	if stagesNode == nil {
		errs = append(errs, &SpecError{Pos: posOf(file, root), Field: "stages", Err: errors.New("missing: a workflow needs at least one stage")})
		return fs, joinErrs(errs)
	}
	if stagesNode.Kind != yaml.MappingNode {
		bad(stagesNode, "", "stages", errors.New("want a mapping of stage id to stage"))
		return fs, joinErrs(errs)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(stagesNode.Content); i += 2 {
		k, v := stagesNode.Content[i], stagesNode.Content[i+1]
		id := mark.restore(k) // as written: a "${...}" id is reported so, not in its protected spelling
		if seen[id] {
			bad(k, id, "", fmt.Errorf("%w stage id", ErrDuplicate))
			continue
		}
		seen[id] = true
		if !validID(id) {
			bad(k, id, "", errors.New("stage ids are letters, digits, '-' and '_' (no '.': --set STAGE.PARAM=V splits at the first dot)"))
		} else if id == "params" {
			bad(k, id, "", errors.New(`the stage id "params" is reserved: --set params.NAME=V sets workflow param NAME`))
		}
		st := &stageSpec{ID: id, Pos: posOf(file, k), With: map[string]*yaml.Node{}, WithPos: map[string]Pos{}}
		if v.Kind != yaml.MappingNode {
			bad(v, id, "", errors.New("want a mapping with uses, needs and with"))
			continue
		}
		seenKey := map[string]bool{}
		for j := 0; j+1 < len(v.Content); j += 2 {
			sk, sv := v.Content[j], v.Content[j+1]
			if seenKey[sk.Value] {
				bad(sk, id, sk.Value, fmt.Errorf("%w key", ErrDuplicate))
				continue
			}
			seenKey[sk.Value] = true
			switch sk.Value {
			case "uses":
				if sv.Kind != yaml.ScalarNode || sv.Value == "" {
					bad(sv, id, "uses", errors.New("want a stage kind name"))
					continue
				}
				if err := refNotHere(mark, sv); err != nil {
					bad(sv, id, "uses", err)
					continue
				}
				st.Uses, st.UsesPos = sv.Value, posOf(file, sv)
			case "needs":
				switch sv.Kind {
				case yaml.ScalarNode:
					if err := refNotHere(mark, sv); err != nil {
						bad(sv, id, "needs", err)
					} else if sv.Value != "" {
						st.Needs, st.NeedsPos = []string{sv.Value}, []Pos{posOf(file, sv)}
					}
				case yaml.SequenceNode:
					for _, n := range sv.Content {
						if n.Kind != yaml.ScalarNode {
							bad(n, id, "needs", errors.New("want stage ids"))
							continue
						}
						if err := refNotHere(mark, n); err != nil {
							bad(n, id, "needs", err)
							continue
						}
						st.Needs = append(st.Needs, n.Value)
						st.NeedsPos = append(st.NeedsPos, posOf(file, n))
					}
				default:
					bad(sv, id, "needs", errors.New("want a list of stage ids"))
				}
			case "with":
				if sv.Kind != yaml.MappingNode {
					if !(sv.Kind == yaml.ScalarNode && sv.Tag == "!!null") {
						bad(sv, id, "with", errors.New("want a mapping of param: value"))
					}
					continue
				}
				for m := 0; m+1 < len(sv.Content); m += 2 {
					wk, wv := sv.Content[m], sv.Content[m+1]
					name := mark.restore(wk) // as written, for messages
					if _, dup := st.With[name]; dup {
						bad(wk, id, "with."+name, fmt.Errorf("%w key", ErrDuplicate))
						continue
					}
					st.With[name] = wv
					st.WithKeys = append(st.WithKeys, name)
					st.WithPos[name] = posOf(file, wk)
				}
			default:
				bad(sk, id, sk.Value, fmt.Errorf("unknown stage key%s (want uses, needs, with)",
					didYouMean(sk.Value, []string{"uses", "needs", "with"})))
			}
		}
		if st.Uses == "" && !seenKey["uses"] {
			bad(k, id, "uses", errors.New("missing: every stage needs `uses: KIND`"))
		}
		fs.Stages = append(fs.Stages, st)
	}
	if len(fs.Stages) == 0 && len(errs) == 0 {
		bad(stagesNode, "", "stages", errors.New("a workflow needs at least one stage"))
	}
	return fs, joinErrs(errs)
}

// refNotHere returns an ErrUnresolved error for a ${...} reference in a
// scalar where none is read (uses, needs): such a value names no stage
// kind or stage, and the message shows it as written.
func refNotHere(mark refMarker, n *yaml.Node) error {
	if v := mark.restore(n); strings.Contains(v, "${") {
		return fmt.Errorf("%w %s: references are read only in with: values and workflow params", ErrUnresolved, v)
	}
	return nil
}

// maxExpandedNodes bounds the nodes alias expansion may produce, so that a
// file of nested aliases ("billion laughs") fails instead of filling memory.
const maxExpandedNodes = 1 << 20

// expandAliases returns a copy of the tree under n with every alias (*name)
// replaced by a copy of its anchored node, positioned at the alias, and
// with merge keys (`<<: *name` or `<<: [*a, *b]`) expanded: keys written in
// the mapping win over merged ones, and earlier merged mappings over later
// ones, as YAML tools do. The rest of the parser then sees plain nodes.
func expandAliases(n *yaml.Node, budget *int) (*yaml.Node, error) {
	if *budget--; *budget < 0 {
		return nil, errors.New("too many YAML alias expansions")
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return n, nil
		}
		c, err := expandAliases(n.Alias, budget)
		if err != nil {
			return nil, err
		}
		cp := *c
		cp.Anchor, cp.Line, cp.Column = "", n.Line, n.Column
		return &cp, nil
	case yaml.DocumentNode, yaml.SequenceNode, yaml.MappingNode:
		cp := *n
		cp.Content = make([]*yaml.Node, 0, len(n.Content))
		for _, c := range n.Content {
			e, err := expandAliases(c, budget)
			if err != nil {
				return nil, err
			}
			cp.Content = append(cp.Content, e)
		}
		if cp.Kind == yaml.MappingNode {
			mergeKeys(&cp)
		}
		return &cp, nil
	}
	return n, nil
}

// mergeKeys replaces the `<<` entries of an expanded mapping by the entries
// of the mappings they merge that the mapping does not set itself. A `<<`
// whose value is not a mapping or a list of mappings is left in place (and
// reported as a bad key or value by the caller).
func mergeKeys(m *yaml.Node) {
	isMerge := func(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.Tag == "!!merge" }
	sources := func(v *yaml.Node) ([]*yaml.Node, bool) {
		if v.Kind == yaml.MappingNode {
			return []*yaml.Node{v}, true
		}
		if v.Kind != yaml.SequenceNode {
			return nil, false
		}
		for _, c := range v.Content {
			if c.Kind != yaml.MappingNode {
				return nil, false
			}
		}
		return v.Content, true
	}
	have := map[string]bool{}
	merges := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		if isMerge(m.Content[i]) {
			merges = true
		} else {
			have[m.Content[i].Value] = true
		}
	}
	if !merges {
		return
	}
	var out []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		srcs, ok := sources(v)
		if !isMerge(k) || !ok {
			out = append(out, k, v)
			continue
		}
		for _, src := range srcs {
			for j := 0; j+1 < len(src.Content); j += 2 {
				if sk := src.Content[j]; !have[sk.Value] {
					have[sk.Value] = true
					out = append(out, sk, src.Content[j+1])
				}
			}
		}
	}
	m.Content = out
}

// idRe is a stage id; nameRe a workflow name (a directory name under runs/,
// where a dot does no harm).
var (
	idRe   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]*$`)
	nameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
)

func validID(s string) bool { return idRe.MatchString(s) }

// yamlSyntaxError turns a yaml.v3 parse error into a SpecError at the
// problem's line and column. yaml.v3's messages only name a line, often the
// line where the enclosing block started (and 0-based there), so the
// position comes from goccy/go-yaml's parser, whose syntax errors carry the
// offending token. Where that parser accepts what yaml.v3 refused, the
// yaml.v3 line is kept.
func yamlSyntaxError(file string, data []byte, err error) error {
	if _, gerr := goyamlparser.ParseBytes(data, 0); gerr != nil {
		var se *goyaml.SyntaxError
		if errors.As(gerr, &se) && se.Token != nil && se.Token.Position != nil && se.Token.Position.Line > 0 {
			return &SpecError{Pos: Pos{File: file, Line: se.Token.Position.Line, Column: se.Token.Position.Column},
				Err: fmt.Errorf("invalid YAML: %s", se.Message)}
		}
	}
	return &SpecError{Pos: Pos{File: file, Line: yamlErrLine(err), Column: 1}, Err: fmt.Errorf("invalid YAML: %s", trimYAMLErr(err))}
}

var yamlLineRe = regexp.MustCompile(`line (\d+)`)

func yamlErrLine(err error) int {
	if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
		var n int
		fmt.Sscan(m[1], &n)
		return n
	}
	return 1
}

func trimYAMLErr(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	return yamlLineRe.ReplaceAllString(strings.TrimPrefix(s, "unmarshal errors:\n  "), "line $1")
}

// readWorkflowFile reads and parses a workflow file.
func readWorkflowFile(path string) (*fileSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseFile(path, data)
}

// refRe matches ${...} references. YAML flow mappings such as
// `with: {seed: ${params.seed}}` cannot hold braces in plain scalars, so
// before parsing every reference is rewritten to a same-length form such as
// $(...) (positions stay exact), and [refMarker.restore] turns it back. The
// marker is one the file does not use as text, so a literal "$(x)" in a
// value stays what it is.
var refRe = regexp.MustCompile(`\$\{([A-Za-z0-9_.-]*)\}`)

// refMarker is the pair of characters that stand for { and } in protected
// references. The zero value is "(" and ")".
type refMarker struct{ open, close byte }

// refMarkers are the candidates, in order: none is a YAML indicator.
var refMarkers = []refMarker{{'(', ')'}, {'<', '>'}, {'^', '^'}, {'~', '~'}}

// chooseRefMarker returns the first marker whose opening "$" + open does
// not occur in data.
func chooseRefMarker(data []byte) (refMarker, bool) {
	for _, m := range refMarkers {
		if !bytes.Contains(data, []byte{'$', m.open}) {
			return m, true
		}
	}
	return refMarker{}, false
}

func (m refMarker) orDefault() refMarker {
	if m.open == 0 {
		return refMarkers[0]
	}
	return m
}

func (m refMarker) protect(data []byte) []byte {
	m = m.orDefault()
	return refRe.ReplaceAllFunc(data, func(ref []byte) []byte {
		out := slices.Clone(ref)
		out[1], out[len(out)-1] = m.open, m.close
		return out
	})
}

// restore turns protected references in a scalar of the file back into
// ${...}. Values given with --set (line 0) were never protected and are
// returned as they are.
func (m refMarker) restore(node *yaml.Node) string {
	if node.Line == 0 {
		return node.Value
	}
	return m.restoreText(node.Value)
}

// restoreText turns the protected references in s back into ${...}.
func (m refMarker) restoreText(s string) string {
	m = m.orDefault()
	if !strings.Contains(s, string([]byte{'$', m.open})) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, string([]byte{'$', m.open}))
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := i + 2
		for j < len(s) && isRefNameByte(s[j]) {
			j++
		}
		if j < len(s) && s[j] == m.close {
			b.WriteString(s[:i] + "${" + s[i+2:j] + "}")
			s = s[j+1:]
			continue
		}
		b.WriteString(s[:i+2])
		s = s[i+2:]
	}
}

func isRefNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}
