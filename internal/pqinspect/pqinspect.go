// Package pqinspect describes Parquet files for `coderflow inspect`: schema,
// row groups with per-column codec and sizes, key-value metadata, and the
// first rows (long lists, text and binary abbreviated). It reads files from
// any writer (DuckDB, Arrow, Spark, parquet-go): rows are decoded from the
// schema's repetition and definition levels into JSON-safe values (see
// Rows), one row at a time. A damaged file is an error naming the file,
// never a panic, and never an allocation out of proportion to the file:
// the footer's and the page headers' sizes and counts, which parquet-go
// allocates before it reads, are checked first (internal/pqcheck).
package pqinspect

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"coderflow/internal/pqcheck"
)

// Column is one column chunk of a row group.
type Column struct {
	Path         string `json:"path"`
	Codec        string `json:"codec"`
	Compressed   int64  `json:"compressed_bytes"`
	Uncompressed int64  `json:"uncompressed_bytes"`
}

// RowGroup is one row group.
type RowGroup struct {
	Rows         int64    `json:"rows"`
	Compressed   int64    `json:"compressed_bytes"`
	Uncompressed int64    `json:"uncompressed_bytes"`
	Columns      []Column `json:"columns"`
}

// Info describes a Parquet file.
type Info struct {
	Path      string            `json:"path"`
	Size      int64             `json:"size"`
	Rows      int64             `json:"rows"`
	CreatedBy string            `json:"created_by"`
	Schema    string            `json:"schema"`
	Columns   []string          `json:"columns"`
	RowGroups []RowGroup        `json:"row_groups"`
	Meta      map[string]string `json:"metadata"`
}

func open(path string) (pf *parquet.File, f *os.File, err error) {
	f, err = os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := pqcheck.Footer(f, st.Size()); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	// parquet-go panics on some malformed footers (a MAP group without
	// key_value, a DECIMAL without a length): report those as errors too.
	defer func() {
		if r := recover(); r != nil {
			f.Close()
			pf, f, err = nil, nil, fmt.Errorf("%s: not a readable Parquet file: %v", path, r)
		}
	}()
	// inspect reads pages in order: the page index and bloom filters,
	// which parquet-go would read and decode too, are not needed
	pf, err = parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: not a readable Parquet file: %w", path, err)
	}
	return pf, f, nil
}

// checkCodecs refuses LZ4_RAW column chunks: parquet-go v0.32.0 keeps the
// wrong buffer when its LZ4 decoder reallocates, so such pages read as
// zeros or fail with a misleading level error
// (https://github.com/parquet-go/parquet-go/issues/608).
func checkCodecs(pf *parquet.File) error {
	for _, rg := range pf.Metadata().RowGroups {
		for _, c := range rg.Columns {
			if c.MetaData.Codec == format.Lz4Raw {
				return fmt.Errorf("column %s is LZ4_RAW-compressed, which this build's Parquet reader (parquet-go v0.32.0, issue #608) can decode wrongly; rows are not shown (the footer, --schema and --meta are fine)",
					strings.Join(c.MetaData.PathInSchema, "."))
			}
		}
	}
	return nil
}

// Describe reads the footer of a Parquet file.
func Describe(path string) (_ *Info, err error) {
	pf, f, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// parquet-go's schema printing panics on some malformed schemas (a LIST
	// annotation on a leaf column).
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: malformed Parquet schema: %v", path, r)
		}
	}()
	md := pf.Metadata()
	info := &Info{Path: path, Size: pf.Size(), Rows: pf.NumRows(), CreatedBy: md.CreatedBy,
		Schema: schemaText(pf.Schema()), Meta: map[string]string{},
		Columns: []string{}, RowGroups: []RowGroup{}} // [] rather than null in JSON for a file without rows
	for _, fld := range pf.Schema().Fields() {
		info.Columns = append(info.Columns, fld.Name())
	}
	for _, kv := range md.KeyValueMetadata {
		info.Meta[kv.Key] = kv.Value
	}
	for _, rg := range md.RowGroups {
		g := RowGroup{Rows: rg.NumRows}
		for _, c := range rg.Columns {
			g.Columns = append(g.Columns, Column{Path: strings.Join(c.MetaData.PathInSchema, "."), Codec: c.MetaData.Codec.String(),
				Compressed: c.MetaData.TotalCompressedSize, Uncompressed: c.MetaData.TotalUncompressedSize})
			g.Compressed += c.MetaData.TotalCompressedSize
			g.Uncompressed += c.MetaData.TotalUncompressedSize
		}
		info.RowGroups = append(info.RowGroups, g)
	}
	return info, nil
}

// schemaText prints s as parquet-go does, with names escaped (see
// Escape): a name could otherwise send escape sequences to the terminal
// or break the schema's lines with a newline.
func schemaText(s *parquet.Schema) string {
	var b strings.Builder
	if err := parquet.PrintSchema(&b, Escape(s.Name()), escNode{s}); err != nil {
		return strings.TrimSpace(s.String())
	}
	return strings.TrimSpace(b.String())
}

// escNode and escField show a schema with escaped field names to
// parquet.PrintSchema.
type (
	escNode  struct{ parquet.Node }
	escField struct{ parquet.Field }
)

func (n escNode) Fields() []parquet.Field  { return escFields(n.Node.Fields()) }
func (f escField) Fields() []parquet.Field { return escFields(f.Field.Fields()) }
func (f escField) Name() string            { return Escape(f.Field.Name()) }

func escFields(fs []parquet.Field) []parquet.Field {
	out := make([]parquet.Field, len(fs))
	for i, f := range fs {
		out[i] = escField{f}
	}
	return out
}

// Escape returns s with control characters (C0, DEL, C1) and bytes that
// are not UTF-8 escaped as in Go strings ("\x1b", "\n", "\xff"): how
// inspect, and the CLI's tables, show text from a file without sending
// escape sequences to the terminal.
func Escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// Head returns the first n rows as maps from column name to value (see
// Rows for how values are shown).
func Head(path string, n, maxList int) ([]map[string]any, error) {
	var out []map[string]any
	err := Rows(path, n, maxList, func(m map[string]any) error {
		out = append(out, m)
		return nil
	})
	return out, err
}

// Rows calls fn with each of the first n rows, reading one page at a time so
// that memory does not grow with n or with the file. A row is a map from
// top-level column name (see [Keys] for names that repeat) to a JSON-safe
// value: groups are maps, lists are slices, MAP columns are objects
// (non-string keys in their JSON form), NaN and ±Inf are the strings "NaN",
// "+Inf", "-Inf", binary that is not UTF-8 text (STRING, ENUM and JSON
// values included) is "0x…" hex, timestamps (also INT96), dates and times
// are ISO 8601 strings (a time adjusted to UTC ends in Z; a TIME outside
// the day or an INT96 whose nanoseconds run past its day is "invalid …"
// with its raw value), INTERVALs ISO
// 8601 durations ("P1Y2M3DT4H5M6.007S"), FLOAT16 values numbers, decimals
// exact numbers, UUIDs canonical strings. Lists, top-level repeated columns
// included, longer than maxList items are cut to their first maxList items
// followed by a "… (N items)" marker, MAPs of more entries to their first
// maxList entries and a "…" key whose value is "(N entries)" (maxList <= 0
// keeps both whole).
func Rows(path string, n, maxList int, fn func(map[string]any) error) (err error) {
	pf, f, err := open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	done := 0
	// parquet-go panics on some damaged pages (a length that runs past
	// the page): say so, not only the runtime error.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: row %d: damaged or unreadable Parquet data (the reader failed: %v)", path, done, r)
		}
	}()
	if err := checkCodecs(pf); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var names []string
	for _, f := range pf.Schema().Fields() {
		names = append(names, f.Name())
	}
	d := &decoder{root: pf.Schema(), maxList: maxList, keys: Keys(names), raw: leafElements(pf)}
	buf := make([]parquet.Row, 1)
	for gi, rg := range pf.RowGroups() {
		if done >= n {
			break
		}
		if rg.NumRows() == 0 {
			// Arrow writes a row group for a record of no rows, and
			// parquet-go fails to read rows from one with a nested column
			// ("Seek: invalid offset"): there is nothing to read.
			continue
		}
		if err := pqcheck.Pages(f, pf.Size(), &pf.Metadata().RowGroups[gi]); err != nil {
			return fmt.Errorf("%s: row group %d: %w", path, gi, err)
		}
		rows := rg.Rows()
		for done < n {
			k, rerr := rows.ReadRows(buf)
			if k == 1 {
				m, derr := d.row(buf[0])
				if derr != nil {
					rows.Close()
					return fmt.Errorf("%s: row %d: %w", path, done, derr)
				}
				if err := fn(m); err != nil {
					rows.Close()
					return err
				}
				done++
			}
			if k == 0 && rerr == nil {
				rerr = errors.New("the reader returned no row and no error")
			}
			if rerr != nil {
				if errors.Is(rerr, io.EOF) {
					break
				}
				rows.Close()
				return fmt.Errorf("%s: row group %d, row %d: %w", path, gi, done, rerr)
			}
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("%s: row group %d: %w", path, gi, err)
		}
	}
	return nil
}

// Keys returns the keys of the top-level columns named columns in the rows
// [Rows] returns. A column's key is its name, but Arrow lets several
// top-level columns share a name: the second and later of a name are
// name#2, name#3, … (skipping a key another column has as its name), so no
// column's values are lost.
func Keys(columns []string) []string {
	taken := make(map[string]bool, len(columns))
	for _, c := range columns {
		taken[c] = true
	}
	seen := make(map[string]bool, len(columns))
	// next[c] is where the search for c's next free number starts: every
	// number below it was free no longer when it was given out, and keys
	// are only ever taken, so starting at 2 each time would find the same
	// number after retrying every one given out before (quadratic: 30,000
	// columns of one name, which a small footer can hold, took minutes)
	next := map[string]int{}
	keys := make([]string, len(columns))
	for i, c := range columns {
		if !seen[c] {
			seen[c] = true
			keys[i] = c
			continue
		}
		k := max(next[c], 2)
		for taken[c+"#"+strconv.Itoa(k)] {
			k++
		}
		keys[i] = c + "#" + strconv.Itoa(k)
		taken[keys[i]] = true
		next[c] = k + 1
	}
	return keys
}

// leafElements returns the footer's schema elements of the leaf columns,
// by column index: parquet-go's types drop logical types it does not know
// (FLOAT16), which the elements keep. It returns nil when the elements do
// not match the schema's leaves.
func leafElements(pf *parquet.File) []*format.SchemaElement {
	els := pf.Metadata().Schema
	var out []*format.SchemaElement
	for i := 1; i < len(els); i++ {
		if els[i].NumChildren.V == 0 && els[i].Type.Valid {
			out = append(out, &els[i])
		}
	}
	if len(out) != len(pf.Schema().Columns()) {
		return nil
	}
	return out
}
