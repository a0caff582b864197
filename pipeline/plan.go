package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Workflow is a validated workflow: stages with resolved params, in a
// topological order.
type Workflow struct {
	File    string         // path as given
	Name    string         // `name:` (default: file name without extension)
	Workdir string         // absolute workdir
	Params  map[string]any // workflow-level params after overrides
	Stages  []*Node        // topological order (file order among independent stages)
	// Dropped lists stages left out because every stage that needs them
	// reads a local source instead (see [Spec.InputsUnused]).
	Dropped     []string
	droppedKind map[string]string // stage id -> kind, of Dropped
	byID        map[string]*Node
}

// Node is one stage of a validated workflow.
type Node struct {
	ID     string
	Kind   string
	Spec   *Spec
	Needs  []string // declared order
	Inputs []*Node  // the nodes of Needs
	Params Params
	Pos    Pos
	// withPos is where each param given under `with:` (or by --set) has
	// its value, for errors about it found after validation.
	withPos map[string]Pos
}

// paramPos returns the position of param name's value, or the stage's
// position for a param left at its default.
func (n *Node) paramPos(name string) Pos {
	if p, ok := n.withPos[name]; ok {
		return p
	}
	return n.Pos
}

// Stage returns the node with id.
func (w *Workflow) Stage(id string) (*Node, bool) { n, ok := w.byID[id]; return n, ok }

// StageIDs returns the ids in topological order.
func (w *Workflow) StageIDs() []string {
	var ids []string
	for _, n := range w.Stages {
		ids = append(ids, n.ID)
	}
	return ids
}

// LoadOptions configure [Load].
type LoadOptions struct {
	Registry *Registry // default: Default
	// Sets are --set overrides: "STAGE.PARAM=VALUE" or "params.NAME=VALUE".
	Sets []string
	// BaseDir is the directory relative Path params and the workdir are
	// resolved against (the launch directory); default: the current directory.
	BaseDir string
	// Workdir, if set, overrides the file's `workdir:`.
	Workdir string
}

// Load reads, validates and resolves a workflow file. Every problem found is
// reported in one error (an errors.Join of *SpecError values and plain
// errors for bad --set values).
func Load(path string, opt LoadOptions) (*Workflow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return LoadBytes(path, data, opt)
}

// LoadBytes is [Load] for workflow text already in memory; path names it in
// error messages.
func LoadBytes(path string, data []byte, opt LoadOptions) (*Workflow, error) {
	reg := opt.Registry
	if reg == nil {
		reg = Default
	}
	base := opt.BaseDir
	if base == "" {
		base, _ = os.Getwd()
	}
	fs, perr := parseFile(path, data)
	if fs == nil {
		return nil, perr
	}
	var errs []error
	if perr != nil {
		errs = append(errs, unjoin(perr)...)
	}
	byID := map[string]*stageSpec{}
	var ids []string
	for _, s := range fs.Stages {
		byID[s.ID] = s
		ids = append(ids, s.ID)
	}

	// --set overrides
	setErrs := applySets(fs, byID, ids, opt.Sets, reg)
	errs = append(errs, setErrs...)

	w := &Workflow{File: path, Name: fs.Name, Params: map[string]any{}, byID: map[string]*Node{}}
	wd := opt.Workdir
	if wd == "" {
		wd = fs.Workdir
	}
	if wd == "" {
		wd = ".coderflow"
	}
	if h, ok := expandHome(wd); ok {
		wd = h
	} else if !filepath.IsAbs(wd) {
		wd = filepath.Join(base, wd)
	}
	// Clean: ${workdir} is spliced into longer paths, where a trailing
	// slash (--workdir /data/exp:/) would make "exp://cache" look like a URL.
	wd = filepath.Clean(wd)
	w.Workdir = wd
	fs.workdir = wd // the value of ${workdir}
	for _, k := range fs.ParamKeys {
		v, err := substitute(fs.Params[k], fs.paramScope())
		if err != nil {
			if errors.Is(err, errParamInParam) {
				err = errParamInParam
			}
			pos := fs.ParamPos[k]
			if fs.Params[k].Line == 0 {
				pos = Pos{File: "--set params." + k} // the value came from the command line
			}
			errs = append(errs, &SpecError{Pos: pos, Field: "params." + k, Err: err})
		}
		w.Params[k] = v
	}

	nodes := map[string]*Node{}
	for _, s := range fs.Stages {
		n := &Node{ID: s.ID, Kind: s.Uses, Needs: s.Needs, Pos: s.Pos}
		nodes[s.ID] = n
		spec, ok := reg.Lookup(s.Uses)
		if !ok {
			if s.Uses != "" {
				errs = append(errs, &SpecError{Pos: s.UsesPos, Stage: s.ID, Field: "uses",
					Err: fmt.Errorf("%w %q%s (run `coderflow stages` for the list)", ErrUnknownKind, s.Uses, didYouMean(s.Uses, reg.Kinds()))})
			}
		} else {
			n.Spec = spec
		}
		// needs
		seenNeed := map[string]bool{}
		for i, need := range s.Needs {
			switch {
			case need == s.ID:
				errs = append(errs, &SpecError{Pos: s.NeedsPos[i], Stage: s.ID, Field: "needs", Err: fmt.Errorf("%w: a stage cannot need itself", ErrCycle)})
			case byID[need] == nil:
				errs = append(errs, &SpecError{Pos: s.NeedsPos[i], Stage: s.ID, Field: "needs",
					Err: fmt.Errorf("%w %q%s", ErrUnknownStage, need, didYouMean(need, ids))})
			case seenNeed[need]:
				errs = append(errs, &SpecError{Pos: s.NeedsPos[i], Stage: s.ID, Field: "needs", Err: fmt.Errorf("%w need %q", ErrDuplicate, need)})
			}
			seenNeed[need] = true
		}
		// params
		raw := map[string]any{}
		for _, k := range s.WithKeys {
			node := s.With[k]
			field := "with." + k
			vpos := posOf(fs.File, node)
			if node.Line == 0 {
				vpos = Pos{File: "--set " + s.ID + "." + k}
			}
			if n.withPos == nil {
				n.withPos = map[string]Pos{}
			}
			n.withPos[k] = vpos
			v, err := substitute(node, fs)
			if err != nil {
				errs = append(errs, &SpecError{Pos: vpos, Stage: s.ID, Field: field, Err: fmt.Errorf("%w%s", err, setOrigin(node, fs))})
				continue
			}
			if spec == nil {
				continue
			}
			var decl *Param
			for i := range spec.Params {
				if spec.Params[i].Name == k {
					decl = &spec.Params[i]
				}
			}
			if decl == nil {
				errs = append(errs, &SpecError{Pos: s.WithPos[k], Stage: s.ID, Field: field,
					Err: fmt.Errorf("%w for %s%s", ErrUnknownParam, s.Uses, didYouMean(k, paramNames(spec.Params)))})
				continue
			}
			if decl.Type == String || decl.Type == Path || decl.Type == StringList {
				v = literalScalars(node, fs, v)
			}
			cv, err := convertParam(*decl, v)
			if err != nil {
				errs = append(errs, &SpecError{Pos: vpos, Stage: s.ID, Field: field, Err: fmt.Errorf("%w: %v%s", ErrBadValue, err, setOrigin(node, fs))})
				continue
			}
			if decl.Type == Path {
				cv = absSource(cv.(string), base)
			}
			raw[k] = cv
		}
		if spec != nil {
			p, err := NewParams(spec.Params, raw)
			if err != nil {
				// only problems not reported above remain: missing required params
				for _, e := range unjoin(err) {
					if pe := (*paramError)(nil); errors.As(e, &pe) && errors.Is(pe.Err, errRequired) {
						errs = append(errs, &SpecError{Pos: s.Pos, Stage: s.ID, Field: "with." + pe.Param, Err: pe.Err})
					}
				}
			} else if spec.Validate != nil {
				if verr := spec.Validate(p); verr != nil {
					var given []string // values that came from --set
					for _, k := range s.WithKeys {
						if s.With[k].Line == 0 || setOrigin(s.With[k], fs) != "" {
							given = append(given, k)
						}
					}
					note := ""
					if len(given) > 0 {
						note = fmt.Sprintf(" (given with --set: %s)", strings.Join(given, ", "))
					}
					for _, e := range unjoin(verr) {
						// a ParamError is reported at its param's value
						pos, field := s.Pos, "with"
						if pe := (*paramError)(nil); errors.As(e, &pe) {
							pos, field, e = n.paramPos(pe.Param), "with."+pe.Param, pe.Err
						}
						errs = append(errs, &SpecError{Pos: pos, Stage: s.ID, Field: field, Err: fmt.Errorf("%w: %v%s", ErrBadValue, e, note)})
					}
				}
			}
			n.Params = p
		}
	}
	// cycles and topological order
	order, cycle := topoOrder(fs.Stages, byID)
	if cycle != nil {
		s := byID[cycle[0]]
		errs = append(errs, &SpecError{Pos: s.Pos, Stage: s.ID, Field: "needs",
			Err: fmt.Errorf("%w: %s", ErrCycle, strings.Join(cycle, " -> "))})
	}
	if len(errs) > 0 {
		sortErrs(errs)
		return nil, errors.Join(errs...)
	}
	// Stages whose params say they read nothing from their needs keep the
	// edges for display only; upstream stages that feed nothing else are
	// dropped (transitively).
	unused := map[string]bool{}
	for _, id := range order {
		n := nodes[id]
		if n.Spec.InputsUnused != nil && n.Spec.InputsUnused(n.Params) {
			unused[id] = true
		}
	}
	dropped := map[string]bool{}
	for i := len(order) - 1; i >= 0; i-- {
		id := order[i]
		consumers, live := 0, 0
		for _, s := range fs.Stages {
			for _, need := range s.Needs {
				if need == id {
					consumers++
					if !unused[s.ID] && !dropped[s.ID] {
						live++
					}
				}
			}
		}
		if consumers > 0 && live == 0 {
			dropped[id] = true
		}
	}
	for _, id := range order {
		n := nodes[id]
		if dropped[id] {
			w.Dropped = append(w.Dropped, id)
			if w.droppedKind == nil {
				w.droppedKind = map[string]string{}
			}
			w.droppedKind[id] = n.Kind
			continue
		}
		if !unused[id] {
			for _, need := range n.Needs {
				n.Inputs = append(n.Inputs, nodes[need])
			}
		}
		w.Stages = append(w.Stages, n)
		w.byID[id] = n
	}
	return w, nil
}

// sortErrs orders positioned errors by file position, keeping --set errors first.
func sortErrs(errs []error) {
	sort.SliceStable(errs, func(i, j int) bool {
		a, aok := errs[i].(*SpecError)
		b, bok := errs[j].(*SpecError)
		if !aok || !bok {
			return !aok && bok
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		return a.Pos.Column < b.Pos.Column
	})
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// substitute decodes node into a Go value, replacing ${params.NAME} and
// ${workdir} references. A scalar that is exactly one reference takes the
// referenced value with its type (${workdir}: the absolute workdir, a
// string); references inside longer strings are interpolated.
func substitute(node *yaml.Node, fs *fileSpec) (any, error) {
	switch node.Kind {
	case yaml.SequenceNode:
		out := []any{}
		for _, c := range node.Content {
			v, err := substitute(c, fs)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		s := fs.mark.restore(node)
		if !strings.Contains(s, "${") {
			var v any
			if err := node.Decode(&v); err != nil {
				return nil, err
			}
			return v, nil
		}
		if isWorkdirRef(s) {
			return fs.workdirValue(s)
		}
		if name, ok := wholeRef(s); ok {
			ref, ok := fs.Params[name]
			if !ok {
				return nil, unresolved(s, fs)
			}
			// Workflow params cannot refer to params (that is reported
			// where they are defined); resolving the value without them
			// also ends a reference to itself.
			v, err := substitute(ref, fs.paramScope())
			if errors.Is(err, errParamInParam) {
				return nil, fmt.Errorf("%w %s: workflow param %q refers to a param itself", ErrUnresolved, s, name)
			}
			if err != nil {
				// e.g. a misspelt ${workdir} in the param's value
				return nil, fmt.Errorf("workflow param %q: %w", name, err)
			}
			return v, nil
		}
		var b strings.Builder
		for {
			i := strings.Index(s, "${")
			if i < 0 {
				b.WriteString(s)
				break
			}
			j := strings.Index(s[i:], "}")
			if j < 0 {
				return nil, fmt.Errorf("%w: unterminated %q", ErrUnresolved, s[i:])
			}
			ref := s[i : i+j+1]
			if isWorkdirRef(ref) {
				wd, err := fs.workdirValue(ref)
				if err != nil {
					return nil, err
				}
				b.WriteString(s[:i])
				b.WriteString(wd)
				s = s[i+j+1:]
				continue
			}
			name, ok := wholeRef(ref)
			pn := fs.Params[name]
			if ok && pn != nil && pn.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%w %s: workflow param %q is a list; a list can only be a whole value, not part of a string", ErrUnresolved, ref, name)
			}
			if !ok || pn == nil {
				return nil, unresolved(ref, fs)
			}
			b.WriteString(s[:i])
			text := pn.Value
			if strings.Contains(fs.mark.restore(pn), "${workdir}") {
				// a workflow param built from ${workdir}; any other
				// reference in it is reported where it is defined
				if v, err := substitute(pn, fs.paramScope()); err == nil {
					text = fmt.Sprint(v)
				}
			}
			b.WriteString(text)
			s = s[i+j+1:]
		}
		return b.String(), nil
	}
	var v any
	_ = node.Decode(&v)
	return v, fmt.Errorf("%w: want a scalar or a list, got %s", ErrBadValue, describe(v))
}

// literalScalars returns v (the substituted value of node) with plain YAML
// numbers and booleans replaced by their text as written, for params that
// take strings: `title: 1.10` means "1.10", not the float 1.1 printed
// back. References to workflow params are followed.
func literalScalars(node *yaml.Node, fs *fileSpec, v any) any {
	switch node.Kind {
	case yaml.ScalarNode:
		s := fs.mark.restore(node)
		if name, ok := wholeRef(s); ok {
			if ref, ok := fs.Params[name]; ok && !strings.Contains(fs.mark.restore(ref), "${") {
				return literalScalars(ref, fs, v)
			}
			return v
		}
		if strings.Contains(s, "${") || node.Style != 0 {
			return v
		}
		switch node.Tag {
		case "!!int", "!!float", "!!bool":
			return node.Value
		}
	case yaml.SequenceNode:
		items, ok := v.([]any)
		if !ok || len(items) != len(node.Content) {
			return v
		}
		out := make([]any, len(items))
		for i, c := range node.Content {
			out[i] = literalScalars(c, fs, items[i])
		}
		return out
	}
	return v
}

func wholeRef(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "${params.") || !strings.HasSuffix(s, "}") {
		return "", false
	}
	name := s[len("${params.") : len(s)-1]
	return name, name != "" && !strings.ContainsAny(name, "${} ")
}

// workdirRef is the reference to the workflow's absolute workdir.
const workdirRef = "${workdir}"

func isWorkdirRef(s string) bool { return strings.TrimSpace(s) == workdirRef }

// workdirValue is the value of a ${workdir} reference.
func (fs *fileSpec) workdirValue(ref string) (string, error) {
	if fs.workdir == "" {
		return "", fmt.Errorf("%w %s: the workdir is not known here", ErrUnresolved, strings.TrimSpace(ref))
	}
	return fs.workdir, nil
}

// errParamInParam is the error of a ${params.NAME} reference in the value
// of a workflow param.
var errParamInParam = errors.New("workflow params cannot reference other params")

func unresolved(ref string, fs *fileSpec) error {
	name, _ := wholeRef(ref)
	if name != "" && fs.inParams {
		return fmt.Errorf("%w %s: %w", ErrUnresolved, ref, errParamInParam)
	}
	if name == "" {
		hint := ""
		inner := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(ref), "${"), "}")
		if didYouMean(inner, []string{"workdir"}) != "" {
			hint = " (did you mean " + workdirRef + "?)"
		}
		return fmt.Errorf("%w %s (only ${params.NAME} and %s references are supported)%s", ErrUnresolved, ref, workdirRef, hint)
	}
	hint := didYouMean(name, fs.ParamKeys)
	if hint == "" && name == "workdir" {
		hint = " (the workdir is " + workdirRef + ")"
	}
	return fmt.Errorf("%w %s: no workflow param %q%s", ErrUnresolved, ref, name, hint)
}

// topoOrder returns a topological order that keeps file order among ready
// stages, or a cycle.
func topoOrder(stages []*stageSpec, byID map[string]*stageSpec) ([]string, []string) {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var cycle []string
	var stack []string
	var visit func(id string) bool
	visit = func(id string) bool {
		color[id] = grey
		stack = append(stack, id)
		for _, need := range byID[id].Needs {
			if byID[need] == nil || need == id {
				continue
			}
			switch color[need] {
			case grey:
				i := len(stack) - 1
				for stack[i] != need {
					i--
				}
				cycle = append(append([]string{}, stack[i:]...), need)
				return false
			case white:
				if !visit(need) {
					return false
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[id] = black
		return true
	}
	for _, s := range stages {
		if color[s.ID] == white && !visit(s.ID) {
			return nil, cycle
		}
	}
	// Kahn's algorithm in file order for a stable, readable order.
	indeg := map[string]int{}
	users := map[string][]string{}
	for _, s := range stages {
		for _, need := range uniq(s.Needs) {
			if byID[need] != nil && need != s.ID {
				indeg[s.ID]++
				users[need] = append(users[need], s.ID)
			}
		}
	}
	var order []string
	done := map[string]bool{}
	for len(order) < len(stages) {
		progressed := false
		for _, s := range stages {
			if !done[s.ID] && indeg[s.ID] == 0 {
				done[s.ID] = true
				order = append(order, s.ID)
				for _, u := range users[s.ID] {
					indeg[u]--
				}
				progressed = true
				break
			}
		}
		if !progressed {
			break
		}
	}
	return order, nil
}

func uniq(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// applySets applies --set overrides to the parsed file.
// setNode is the YAML node of a --set value: a flow sequence such as
// "[color, hog]" is a list, anything else a string (converted to the
// param's type like a value in the file). Its line is 0, which marks
// values that came from the command line.
func setNode(val string) *yaml.Node {
	if strings.HasPrefix(strings.TrimSpace(val), "[") {
		var doc yaml.Node
		// references are protected as in a file: "[${workdir}/a, b]"
		// is not valid YAML as written (braces in a flow sequence)
		mark, markOK := chooseRefMarker([]byte(val))
		if markOK && yaml.Unmarshal(mark.protect([]byte(val)), &doc) == nil && len(doc.Content) == 1 && doc.Content[0].Kind == yaml.SequenceNode {
			seq := doc.Content[0]
			seq.Line, seq.Column = 0, 0
			ok := true
			for _, c := range seq.Content {
				ok = ok && c.Kind == yaml.ScalarNode
				c.Line, c.Column = 0, 0
				c.Value = mark.restoreText(c.Value)
			}
			if ok {
				return seq
			}
		}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: val}
}

// setOrigin notes, for a value that is a whole ${params.NAME} reference to a
// workflow param given with --set, where the value came from (the error is
// positioned where the reference is used).
func setOrigin(node *yaml.Node, fs *fileSpec) string {
	if node.Kind != yaml.ScalarNode {
		return ""
	}
	if name, ok := wholeRef(fs.mark.restore(node)); ok {
		if ref := fs.Params[name]; ref != nil && ref.Line == 0 && ref.Kind == yaml.ScalarNode {
			return fmt.Sprintf(" (${params.%s} is --set params.%s=%s)", name, name, ref.Value)
		}
	}
	return ""
}

func applySets(fs *fileSpec, byID map[string]*stageSpec, ids []string, sets []string, reg *Registry) []error {
	var errs []error
	for _, s := range sets {
		lhs, val, ok := strings.Cut(s, "=")
		stage, param, ok2 := strings.Cut(lhs, ".")
		if !ok || !ok2 || stage == "" || param == "" {
			errs = append(errs, fmt.Errorf("--set %s: want STAGE.PARAM=VALUE or params.NAME=VALUE", s))
			continue
		}
		node := setNode(val)
		if stage == "params" {
			if _, ok := fs.Params[param]; !ok {
				errs = append(errs, fmt.Errorf("--set %s: no workflow param %q%s", s, param, didYouMean(param, fs.ParamKeys)))
				continue
			}
			fs.Params[param] = node
			continue
		}
		st := byID[stage]
		if st == nil {
			errs = append(errs, fmt.Errorf("--set %s: %w %q%s", s, ErrUnknownStage, stage, didYouMean(stage, ids)))
			continue
		}
		if spec, ok := reg.Lookup(st.Uses); ok {
			found := false
			for _, p := range spec.Params {
				found = found || p.Name == param
			}
			if !found {
				errs = append(errs, fmt.Errorf("--set %s: %w %q for %s%s", s, ErrUnknownParam, param, st.Uses, didYouMean(param, paramNames(spec.Params))))
				continue
			}
		}
		if _, exists := st.With[param]; !exists {
			st.WithKeys = append(st.WithKeys, param)
		}
		st.With[param] = node
		st.WithPos[param] = Pos{File: "--set " + stage + "." + param}
	}
	return errs
}
