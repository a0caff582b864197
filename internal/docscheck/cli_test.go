package docscheck

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"coderflow/pipeline"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	binPath   string

	helpMu    sync.Mutex
	helpCache = map[string]cliHelp{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// goTool returns the go command, or "" when there is none.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// coderflowBin builds cmd/coderflow once per test binary (its cobra tree
// lives in package main, so the tests ask the binary for --help).
func coderflowBin(t *testing.T, root string) string {
	t.Helper()
	goCmd := goTool()
	if goCmd == "" {
		t.Skip("go command not found: cannot build cmd/coderflow to check the CLI reference")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "docscheck-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "coderflow")
		cmd := exec.Command(goCmd, "build", "-o", binPath, "./cmd/coderflow")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/coderflow: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// cliHelp is what `coderflow [CMD] --help` says.
type cliHelp struct {
	commands map[string]bool // root only: Available Commands
	flags    map[string]bool // "--name" and "-x", including global flags
	usage    string
}

var (
	helpFlagRE = regexp.MustCompile(`^\s+(?:(-[A-Za-z]), )?(--[A-Za-z][\w-]*)`)
	helpCmdRE  = regexp.MustCompile(`^\s+([a-z][\w-]*)\s{2,}`)
)

// helpOf runs `coderflow CMD --help` (CMD "" for the root) and parses it.
func helpOf(t *testing.T, bin, cmdName string) cliHelp {
	t.Helper()
	helpMu.Lock()
	defer helpMu.Unlock()
	if h, ok := helpCache[cmdName]; ok {
		return h
	}
	args := []string{"--help"}
	if cmdName != "" {
		args = []string{cmdName, "--help"}
	}
	var stdout, stderr bytes.Buffer
	c := exec.Command(bin, args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("coderflow %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	h := cliHelp{commands: map[string]bool{}, flags: map[string]bool{}}
	sectionName := ""
	for _, l := range strings.Split(stdout.String(), "\n") {
		if strings.HasSuffix(l, ":") && !strings.HasPrefix(l, " ") {
			sectionName = strings.TrimSuffix(l, ":")
			continue
		}
		switch sectionName {
		case "Available Commands":
			if m := helpCmdRE.FindStringSubmatch(l); m != nil {
				h.commands[m[1]] = true
			}
		case "Flags", "Global Flags":
			if m := helpFlagRE.FindStringSubmatch(l); m != nil {
				if m[1] != "" {
					h.flags[m[1]] = true
				}
				h.flags[m[2]] = true
			}
		case "Usage":
			h.usage += strings.TrimSpace(l) + "\n"
		}
	}
	if len(h.flags) == 0 {
		t.Fatalf("coderflow %s: no flags parsed from:\n%s", strings.Join(args, " "), stdout.String())
	}
	helpCache[cmdName] = h
	return h
}

func readmeText(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var flagTokenRE = regexp.MustCompile(`(?:^|[\s\[|(])(--?[A-Za-z][\w-]*)`)

// flagsIn returns the flags (`--name`, `-x`) written in a command line.
func flagsIn(s string) []string {
	var out []string
	for _, m := range flagTokenRE.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// checkCommand checks one documented `coderflow CMD ...` line: CMD is a
// command and every flag it names is one of CMD's flags (or a global one).
func checkCommand(t *testing.T, bin, where, line string) {
	t.Helper()
	if i := strings.Index(line, " #"); i >= 0 {
		line = line[:i]
	}
	f := strings.Fields(line)
	if len(f) == 0 || f[0] != "coderflow" {
		t.Errorf("%s: %q does not start with coderflow", where, line)
		return
	}
	root := helpOf(t, bin, "")
	if len(f) == 1 || strings.HasPrefix(f[1], "-") {
		for _, fl := range flagsIn(line) {
			if !root.flags[fl] {
				t.Errorf("%s: %q: coderflow has no global flag %s", where, line, fl)
			}
		}
		return
	}
	cmd := f[1]
	if !root.commands[cmd] {
		t.Errorf("%s: %q: coderflow has no command %q (commands: %v)", where, line, cmd, sortedKeys(root.commands))
		return
	}
	h := helpOf(t, bin, cmd)
	for _, fl := range flagsIn(strings.Join(f[2:], " ")) {
		if !h.flags[fl] {
			t.Errorf("%s: %q: coderflow %s has no flag %s (flags: %v)", where, line, cmd, fl, sortedKeys(h.flags))
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// TestREADMECLIReference checks README's "CLI reference" block and every
// `coderflow ...` command README shows: the commands and flags exist.
func TestREADMECLIReference(t *testing.T) {
	root := repoRoot(t)
	bin := coderflowBin(t, root)
	readme := readmeText(t, root)

	ref, ok := section(readme, "CLI reference")
	if !ok {
		t.Fatal(`README.md has no "CLI reference" section`)
	}
	blocks := fencedBlocks(ref)
	if len(blocks) == 0 {
		t.Fatal(`README.md "CLI reference" has no code block`)
	}
	documented := map[string]bool{}
	for _, l := range strings.Split(blocks[0], "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		checkCommand(t, bin, "README.md CLI reference", strings.TrimSpace(l))
		if f := strings.Fields(l); len(f) > 1 {
			documented[f[1]] = true
		}
	}
	// Every user command is in the reference (cobra's own are not).
	for cmd := range helpOf(t, bin, "").commands {
		if cmd != "help" && cmd != "completion" && !documented[cmd] {
			t.Errorf("README.md CLI reference does not list `coderflow %s`", cmd)
		}
	}
	// The prose of the section names global flags in code spans.
	rootHelp := helpOf(t, bin, "")
	for _, span := range codeSpans(ref) {
		if strings.HasPrefix(span, "-") {
			fl := strings.Fields(span)[0]
			if !rootHelp.flags[fl] {
				t.Errorf("README.md CLI reference: global flag `%s` does not exist (root flags %v)", span, sortedKeys(rootHelp.flags))
			}
		}
	}

	// Every `coderflow ...` in README: code spans and code block lines.
	allFlags := map[string]bool{}
	for cmd := range rootHelp.commands {
		for fl := range helpOf(t, bin, cmd).flags {
			allFlags[fl] = true
		}
	}
	for _, line := range commandLines(readme) {
		checkCommand(t, bin, "README.md", line)
	}
	// A flag named on its own (`--lock-timeout`) belongs to some command.
	for _, span := range codeSpans(readme) {
		if strings.HasPrefix(span, "--") && len(span) > 2 {
			fl := strings.FieldsFunc(span, func(r rune) bool { return r == ' ' || r == '=' })[0]
			if !allFlags[fl] {
				t.Errorf("README.md: `%s`: no coderflow command has the flag %s", span, fl)
			}
		}
	}
}

// commandLines returns README's `coderflow ...` commands: inline code spans
// and lines of code blocks that start with coderflow (after a shell prompt).
func commandLines(text string) []string {
	var out []string
	for _, s := range codeSpans(text) {
		if strings.HasPrefix(s, "coderflow ") || s == "coderflow" {
			out = append(out, s)
		}
	}
	for _, b := range fencedBlocks(text) {
		for _, l := range strings.Split(b, "\n") {
			l = strings.TrimPrefix(strings.TrimSpace(l), "$ ")
			if strings.HasPrefix(l, "coderflow ") {
				out = append(out, l)
			}
		}
	}
	return out
}

// shippedWorkflow is the part of a workflow file the docs refer to.
type shippedWorkflow struct {
	Params map[string]any `yaml:"params"`
	Stages map[string]struct {
		Uses string `yaml:"uses"`
	} `yaml:"stages"`
}

func loadShipped(t *testing.T, root string) map[string]shippedWorkflow {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(root, "workflows", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no workflows/*.yaml (%v)", err)
	}
	out := map[string]shippedWorkflow{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// ${...} references are not YAML inside flow mappings; the engine
		// substitutes them first, and their values do not matter here.
		b = refRE.ReplaceAll(b, []byte("ref"))
		var w shippedWorkflow
		if err := yaml.Unmarshal(b, &w); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out["workflows/"+filepath.Base(p)] = w
	}
	return out
}

var (
	workflowRefRE = regexp.MustCompile(`\bworkflows/[\w.-]+\.ya?ml\b`)
	layoutRE      = regexp.MustCompile(`(?m)^workflows/\s+(.*)$`)
	lowerIdentRE  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	refRE         = regexp.MustCompile(`\$\{[^}]*\}`)
)

// TestWorkflowReferences checks README's and the stage docs' references to
// shipped workflows: every workflows/NAME.yaml named exists, README's layout
// lists exactly the files in workflows/, and in commands that name a
// workflow (or, without one, any shipped workflow), the stage ids of
// --only/--from/--until/--force, `inspect WF STAGE` and `kg WF STAGE` exist
// and `--set STAGE.PARAM=V` names a param of that stage's kind.
func TestWorkflowReferences(t *testing.T) {
	root := repoRoot(t)
	shipped := loadShipped(t, root)
	texts := stageDocs(t, root)
	texts["README.md"] = readmeText(t, root)

	for file, text := range texts {
		for i, l := range strings.Split(text, "\n") {
			for _, ref := range workflowRefRE.FindAllString(l, -1) {
				if _, ok := shipped[ref]; !ok {
					t.Errorf("%s:%d: %s does not exist (shipped: %v)", file, i+1, ref, sortedWorkflowNames(shipped))
				}
			}
		}
	}

	m := layoutRE.FindStringSubmatch(texts["README.md"])
	if m == nil {
		t.Error("README.md Layout: no `workflows/  a.yaml, b.yaml` line")
	} else {
		var listed []string
		for _, f := range strings.Split(m[1], ",") {
			listed = append(listed, "workflows/"+strings.TrimSpace(f))
		}
		sort.Strings(listed)
		if names := sortedWorkflowNames(shipped); !slices.Equal(listed, names) {
			t.Errorf("README.md Layout lists %v, workflows/ holds %v", listed, names)
		}
	}

	for file, text := range texts {
		if file == "docs/RELIABILITY.md" {
			continue // its bad-input catalogue misspells stages and params on purpose
		}
		for _, line := range docCommands(text) {
			checkStageRefs(t, file, line, shipped)
		}
	}
}

func sortedWorkflowNames(m map[string]shippedWorkflow) []string {
	var n []string
	for k := range m {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// docCommands returns the command lines of a doc that run coderflow or its
// go-task wrappers: code spans and code block lines containing `coderflow `,
// `task run` or `--set `.
func docCommands(text string) []string {
	keep := func(s string) bool {
		return strings.Contains(s, "coderflow ") || strings.Contains(s, "task run") || strings.Contains(s, "--set ")
	}
	var out []string
	for _, s := range codeSpans(text) {
		if keep(s) {
			out = append(out, s)
		}
	}
	for _, b := range fencedBlocks(text) {
		for _, l := range strings.Split(b, "\n") {
			if keep(l) {
				out = append(out, strings.TrimSpace(l))
			}
		}
	}
	return out
}

// checkStageRefs checks the stage ids and --set params of one command line.
func checkStageRefs(t *testing.T, file, line string, shipped map[string]shippedWorkflow) {
	t.Helper()
	if i := strings.Index(line, " #"); i >= 0 {
		line = line[:i]
	}
	f := strings.Fields(line)
	var wfs []string
	wfIndex := -1
	for i, tok := range f {
		if workflowRefRE.MatchString(tok) && strings.HasPrefix(tok, "workflows/") {
			if _, ok := shipped[tok]; ok {
				wfs = append(wfs, tok)
				wfIndex = i
			}
		}
	}
	explicit := len(wfs) > 0
	if !explicit {
		wfs = sortedWorkflowNames(shipped)
	}
	// stageIn reports whether some candidate workflow has stage id; the
	// kinds it has there.
	kindsOf := func(id string) []string {
		var kinds []string
		for _, w := range wfs {
			if s, ok := shipped[w].Stages[id]; ok {
				kinds = append(kinds, s.Uses)
			}
		}
		return kinds
	}
	checkStage := func(id string) {
		if !lowerIdentRE.MatchString(id) {
			return // a placeholder such as S or STAGE
		}
		if len(kindsOf(id)) == 0 {
			t.Errorf("%s: %q: no stage %q in %v", file, line, id, wfs)
		}
	}
	for i := 0; i < len(f); i++ {
		tok := f[i]
		name, val, hasVal := strings.Cut(tok, "=")
		next := func() (string, bool) {
			if hasVal {
				return val, true
			}
			if i+1 < len(f) {
				i++
				return f[i], true
			}
			return "", false
		}
		switch name {
		case "--only", "--from", "--until", "--force":
			if id, ok := next(); ok {
				checkStage(strings.Trim(id, "`"))
			}
		case "--set":
			v, ok := next()
			if !ok {
				continue
			}
			sp, _, _ := strings.Cut(strings.Trim(v, "`"), "=")
			stage, param, ok := strings.Cut(sp, ".")
			if !ok || !lowerIdentRE.MatchString(stage) || !lowerIdentRE.MatchString(param) {
				continue // S.P=V and similar placeholders
			}
			if stage == "params" {
				found := false
				for _, w := range wfs {
					_, ok := shipped[w].Params[param]
					found = found || ok
				}
				if !found {
					t.Errorf("%s: %q: no workflow param %q in %v", file, line, param, wfs)
				}
				continue
			}
			kinds := kindsOf(stage)
			if len(kinds) == 0 {
				t.Errorf("%s: %q: no stage %q in %v", file, line, stage, wfs)
				continue
			}
			// With a workflow named, its stage must have the param; without,
			// the stage of some shipped workflow.
			var lacking []string
			for _, kind := range kinds {
				spec, ok := pipeline.Default.Lookup(kind)
				if !ok || !slices.ContainsFunc(spec.Params, func(p pipeline.Param) bool { return p.Name == param }) {
					lacking = append(lacking, kind)
				}
			}
			if explicit && len(lacking) > 0 || len(lacking) == len(kinds) {
				t.Errorf("%s: %q: %v (stage %q) has no param %q", file, line, lacking, stage, param)
			}
		}
	}
	// coderflow inspect WF STAGE, coderflow kg WF STAGE ...
	if explicit && wfIndex >= 2 && wfIndex+1 < len(f) && f[wfIndex-2] == "coderflow" {
		switch f[wfIndex-1] {
		case "inspect", "kg":
			if id := f[wfIndex+1]; !strings.HasPrefix(id, "-") {
				checkStage(id)
			}
		}
	}
}

// TestREADMECommonStageIDs checks README's claim "Stage ids are the same in
// every shipped workflow (`a`, `b`, ...)": each id in those parentheses is a
// stage of every workflow in workflows/.
func TestREADMECommonStageIDs(t *testing.T) {
	root := repoRoot(t)
	shipped := loadShipped(t, root)
	readme := readmeText(t, root)
	const lead = "Stage ids are the same in every shipped workflow ("
	i := strings.Index(strings.Join(strings.Fields(readme), " "), lead)
	if i < 0 {
		t.Skip("README.md no longer says which stage ids every workflow shares")
	}
	rest := strings.Join(strings.Fields(readme), " ")[i+len(lead):]
	list, _, ok := strings.Cut(rest, ")")
	if !ok {
		t.Fatalf("README.md: unclosed parenthesis after %q", lead)
	}
	ids := codeSpans(list)
	if len(ids) == 0 {
		t.Fatalf("README.md: no stage ids in %q", list)
	}
	for _, id := range ids {
		for _, wf := range sortedWorkflowNames(shipped) {
			if _, ok := shipped[wf].Stages[id]; !ok {
				t.Errorf("README.md says every shipped workflow has stage %q; %s does not", id, wf)
			}
		}
	}
}

var taskCmdRE = regexp.MustCompile(`(?:^|[\s(])(?:go tool )?task ([A-Za-z][\w:./*-]*)`)

// TestREADMETasks checks that every go-task task README runs (`task NAME`,
// `go tool task NAME`) is a task of Taskfile.yml, or a path its wildcard
// task `workflows/*` matches.
func TestREADMETasks(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "Taskfile.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var tf struct {
		Tasks map[string]any `yaml:"tasks"`
	}
	if err := yaml.Unmarshal(b, &tf); err != nil {
		t.Fatalf("Taskfile.yml: %v", err)
	}
	readme := readmeText(t, root)
	var lines []string
	lines = append(lines, codeSpans(readme)...)
	for _, blk := range fencedBlocks(readme) {
		for _, l := range strings.Split(blk, "\n") {
			if i := strings.Index(l, " #"); i >= 0 {
				l = l[:i] // a shell comment
			}
			lines = append(lines, l)
		}
	}
	n := 0
	for _, l := range lines {
		for _, m := range taskCmdRE.FindAllStringSubmatch(l, -1) {
			name := m[1]
			n++
			if _, ok := tf.Tasks[name]; ok {
				continue
			}
			matched := false
			for pat := range tf.Tasks {
				if ok, _ := filepath.Match(pat, name); ok && strings.Contains(pat, "*") {
					matched = true
				}
			}
			if !matched {
				t.Errorf("README.md: %q runs task %q, which Taskfile.yml does not define (tasks: %v)", l, name, sortedAnyKeys(tf.Tasks))
			}
		}
	}
	if n == 0 {
		t.Error("README.md names no go-task task: the pattern no longer matches")
	}
}

func sortedAnyKeys(m map[string]any) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}
