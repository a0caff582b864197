// Package docscheck holds tests that keep the user documentation true to the
// code: the param tables in docs/*.md against the params the stage kinds
// register, and README's CLI reference and workflow names against the
// coderflow binary and workflows/. It has no non-test code.
package docscheck

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot walks up from the test's working directory to the directory
// whose go.mod declares module coderflow.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && regexp.MustCompile(`(?m)^module coderflow\s*$`).Match(b) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root (go.mod of module coderflow) not found above the working directory")
		}
		dir = parent
	}
}

// heading is a Markdown ATX heading.
type heading struct {
	level int
	text  string
}

// mdTable is a pipe table of a Markdown file: its header cells, its body
// rows, the headings it sits under (outermost first) and the line of its
// header row.
type mdTable struct {
	file     string
	line     int
	headings []heading
	header   []string
	rows     []mdRow
}

type mdRow struct {
	line  int
	cells []string
}

// col returns the index of the header cell equal to one of names
// (case-insensitive), or -1.
func (tb *mdTable) col(names ...string) int {
	for i, h := range tb.header {
		for _, n := range names {
			if strings.EqualFold(strings.TrimSpace(h), n) {
				return i
			}
		}
	}
	return -1
}

var (
	headingRE   = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	fenceRE     = regexp.MustCompile("^\\s*(```|~~~)")
	delimCellRE = regexp.MustCompile(`^\s*:?-{1,}:?\s*$`)
)

// fenceTracker follows fenced code blocks (``` or ~~~) line by line.
type fenceTracker struct{ open string }

// step reports whether l opens or closes a fenced block; a fence of the
// other kind inside a block is content.
func (f *fenceTracker) step(l string) bool {
	m := fenceRE.FindStringSubmatch(l)
	switch {
	case m == nil:
		return false
	case f.open == "":
		f.open = m[1]
	case f.open == m[1]:
		f.open = ""
	default:
		return false
	}
	return true
}

// inside reports whether the lines after the last step are in a block.
func (f *fenceTracker) inside() bool { return f.open != "" }

// parseTables returns every pipe table of a Markdown document outside fenced
// code blocks, with the headings it is nested under.
func parseTables(file, text string) []mdTable {
	lines := strings.Split(text, "\n")
	var (
		tables []mdTable
		stack  []heading
		fences fenceTracker
	)
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if fences.step(l) || fences.inside() {
			continue
		}
		if m := headingRE.FindStringSubmatch(l); m != nil {
			h := heading{level: len(m[1]), text: m[2]}
			for len(stack) > 0 && stack[len(stack)-1].level >= h.level {
				stack = stack[:len(stack)-1]
			}
			stack = append(stack, h)
			continue
		}
		if !isTableLine(l) || i+1 >= len(lines) || !isDelimiterRow(lines[i+1]) {
			continue
		}
		tb := mdTable{file: file, line: i + 1, headings: append([]heading(nil), stack...), header: splitRow(l)}
		i += 2
		for ; i < len(lines) && isTableLine(lines[i]); i++ {
			tb.rows = append(tb.rows, mdRow{line: i + 1, cells: splitRow(lines[i])})
		}
		i-- // the loop's i++ moves to the line after the table
		tables = append(tables, tb)
	}
	return tables
}

func isTableLine(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "|") }

func isDelimiterRow(l string) bool {
	if !isTableLine(l) {
		return false
	}
	cells := splitRow(l)
	for _, c := range cells {
		if !delimCellRE.MatchString(c) {
			return false
		}
	}
	return len(cells) > 0
}

// splitRow splits a table row into trimmed cells on unescaped pipes; `\|`
// becomes `|` in the cell.
func splitRow(l string) []string {
	l = strings.TrimSpace(l)
	l = strings.TrimPrefix(l, "|")
	if strings.HasSuffix(l, "|") && !strings.HasSuffix(l, `\|`) {
		l = l[:len(l)-1]
	}
	var cells []string
	var b strings.Builder
	for i := 0; i < len(l); i++ {
		switch {
		case l[i] == '\\' && i+1 < len(l) && l[i+1] == '|':
			b.WriteByte('|')
			i++
		case l[i] == '|':
			cells = append(cells, strings.TrimSpace(b.String()))
			b.Reset()
		default:
			b.WriteByte(l[i])
		}
	}
	return append(cells, strings.TrimSpace(b.String()))
}

var codeSpanRE = regexp.MustCompile("`([^`\n]+)`")

// codeSpans returns the contents of the single-backtick inline code spans
// of s outside fenced code blocks.
func codeSpans(s string) []string {
	var out []string
	var fences fenceTracker
	for _, l := range strings.Split(s, "\n") {
		if fences.step(l) || fences.inside() {
			continue
		}
		for _, m := range codeSpanRE.FindAllStringSubmatch(l, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// fencedBlocks returns the contents of the fenced code blocks of a document.
func fencedBlocks(text string) []string {
	var (
		blocks []string
		cur    []string
		fences fenceTracker
	)
	for _, l := range strings.Split(text, "\n") {
		switch {
		case !fences.step(l):
			if fences.inside() {
				cur = append(cur, l)
			}
		case fences.inside(): // opened a block
			cur = nil
		default: // closed one
			blocks = append(blocks, strings.Join(cur, "\n"))
		}
	}
	return blocks
}

// section returns the text under the first heading whose text equals title,
// up to the next heading of the same or a higher level.
func section(text, title string) (string, bool) {
	lines := strings.Split(text, "\n")
	start, level := -1, 0
	var fences fenceTracker
	for i, l := range lines {
		if fences.step(l) || fences.inside() {
			continue
		}
		m := headingRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if start < 0 {
			if strings.EqualFold(m[2], title) {
				start, level = i+1, len(m[1])
			}
			continue
		}
		if len(m[1]) <= level {
			return strings.Join(lines[start:i], "\n"), true
		}
	}
	if start < 0 {
		return "", false
	}
	return strings.Join(lines[start:], "\n"), true
}

func TestParseTables(t *testing.T) {
	doc := "# Top `a.kind`\n\n" +
		"| param | type | default | meaning |\n|---|---|:-:|---|\n" +
		"| `x` | int | 1 | one \\| two |\n| `y` | string | `s` | why |\n\ntext\n" +
		"```\n| not | a |\n|---|---|\n| table | row |\n```\n" +
		"## Sub\n### Deeper\n## Other `b.kind`\n| k | v |\n| - | - |\n| 1 | 2 |\n"
	tables := parseTables("doc.md", doc)
	if len(tables) != 2 {
		t.Fatalf("got %d tables, want 2: %+v", len(tables), tables)
	}
	a := tables[0]
	if a.line != 3 || len(a.rows) != 2 || a.col("default") != 2 || a.rows[0].cells[3] != "one | two" {
		t.Errorf("first table parsed wrong: %+v", a)
	}
	if len(a.headings) != 1 || a.headings[0].text != "Top `a.kind`" {
		t.Errorf("first table headings %+v", a.headings)
	}
	b := tables[1]
	if len(b.headings) != 2 || b.headings[1].text != "Other `b.kind`" || b.rows[0].line != 19 {
		t.Errorf("second table: %+v", b)
	}
	if s, ok := section(doc, "Sub"); !ok || !strings.Contains(s, "### Deeper") || strings.Contains(s, "Other") {
		t.Errorf("section(Sub) = %q, %v", s, ok)
	}
	if got := codeSpans(doc); !slices.Equal(got, []string{"a.kind", "x", "y", "s", "b.kind"}) {
		t.Errorf("codeSpans = %q", got)
	}
	if got := fencedBlocks(doc); len(got) != 1 || !strings.Contains(got[0], "| table | row |") {
		t.Errorf("fencedBlocks = %q", got)
	}
}
