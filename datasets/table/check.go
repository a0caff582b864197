package table

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// nullable is a column of a file that can hold NULL where the row type
// cannot (the file's node is optional, T's required): parquet-go would read
// a NULL there as a zero value.
type nullable struct {
	leaf    int      // column index in the file
	path    []string // column path
	rowType string   // name of T, for errors
	// nullAt[d] is the dotted path of the node a value with definition
	// level d is NULL at, or "" when T can hold that (an empty list, a NULL
	// of a node T has optional too).
	nullAt []string
}

// checkSchema verifies that every column of T is in the file with the same
// physical type, repetition and a compatible logical type: parquet-go would
// otherwise fill a column the file lacks with zero values (and read, say, a
// captions file as an images table without a word), read a DECIMAL(18,2)
// 1.5 as the integer 150 and a TIMESTAMP as its raw microseconds. Extra
// columns in the file are fine (T may read a subset). It returns the
// columns the file lets be NULL where T does not, for [checkNulls].
// A damaged footer can hold a schema parquet-go panics on (a leaf column
// annotated MAP): that is an error too.
func checkSchema[T any](pf *parquet.File) (_ []nullable, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed Parquet schema: %v", p)
		}
	}()
	want := parquet.SchemaOf(new(T))
	have := pf.Schema()
	var out []nullable
	for _, path := range want.Columns() {
		h, ok := have.Lookup(path...)
		wn, hn := pathNodes(want, path), pathNodes(have, path)
		if !ok || hn == nil {
			return nil, fmt.Errorf("no column %q: the file does not hold %s rows (its columns: %s)",
				strings.Join(path, "."), want.Name(), columnList(have))
		}
		name := strings.Join(path, ".")
		// Levels are counted from the top-level fields: Arrow writes the
		// root as repeated, which parquet-go's LeafColumn levels include.
		wr, hr := repLevel(wn), repLevel(hn)
		wleaf, hleaf := wn[len(wn)-1].Type(), hn[len(hn)-1].Type()
		if wk, hk := wleaf.Kind(), hleaf.Kind(); wk != hk || wr != hr {
			return nil, fmt.Errorf("column %q is %s (repetition level %d), want %s (repetition level %d) for %s rows",
				name, hk, hr, wk, wr, want.Name())
		}
		wa, ha := annotationOf(wleaf), annotationOf(hleaf)
		if !ha.fits(wa, wleaf.Kind()) {
			return nil, fmt.Errorf("column %q is %s %s, want %s %s for %s rows (its values would read wrongly)",
				name, hleaf.Kind(), ha, wleaf.Kind(), wa, want.Name())
		}
		var nullAt []string
		bad := false
		for i, n := range hn {
			if !n.Optional() && !n.Repeated() {
				continue
			}
			at := ""
			if n.Optional() && !wn[i].Optional() {
				at, bad = strings.Join(path[:i+1], "."), true
			}
			nullAt = append(nullAt, at)
		}
		if bad {
			out = append(out, nullable{leaf: h.ColumnIndex, path: path, rowType: want.Name(), nullAt: nullAt})
		}
	}
	return out, nil
}

// pathNodes returns the nodes along path below root (nil if there is none).
func pathNodes(root parquet.Node, path []string) []parquet.Node {
	nodes := make([]parquet.Node, 0, len(path))
	n := root
	for _, name := range path {
		var next parquet.Node
		for _, f := range n.Fields() {
			if f.Name() == name {
				next = f
				break
			}
		}
		if next == nil {
			return nil
		}
		nodes = append(nodes, next)
		n = next
	}
	return nodes
}

func repLevel(nodes []parquet.Node) int {
	r := 0
	for _, n := range nodes {
		if n.Repeated() {
			r++
		}
	}
	return r
}

// checkNulls verifies that the file holds no NULL in the columns cols,
// where T cannot hold one. A column chunk whose statistics say it has no
// NULL (a null_count of 0 the footer holds, next to min/max values) is not
// read; the others (a NULL, an empty list, which the count includes too, no
// statistics, or statistics without a null_count) have their definition
// levels read, page by page. DuckDB and Arrow mark every column nullable,
// so files of theirs without NULL read as they are.
//
// parquet-go's format.Statistics holds null_count as a plain int64, so an
// absent count (the field is optional in parquet.thrift; a writer may
// write min/max without it) reads as 0, like a count of 0. Whether the
// count is there is read from the footer itself ([nullCountsIn]), only
// when some chunk's statistics read as "no NULL": a file without such
// chunks, or without nullable columns (every file coderflow writes), costs
// nothing more.
func checkNulls(ctx context.Context, pf *parquet.File, cols []nullable) (err error) {
	if len(cols) == 0 {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("corrupt Parquet data: %v", p)
		}
	}()
	md := pf.Metadata()
	var counted [][]bool // counted[g][c]: the footer holds chunk c's null_count in row group g
	footerRead := false
	var first int64 // index of the row group's first row in the file
	for g, rg := range pf.RowGroups() {
		chunks := rg.ColumnChunks()
		for _, c := range cols {
			if st := md.RowGroups[g].Columns[c.leaf].MetaData.Statistics; st.NullCount == 0 &&
				(len(st.MinValue) > 0 || len(st.MaxValue) > 0 || len(st.Min) > 0 || len(st.Max) > 0) {
				if !footerRead {
					counted, footerRead = nullCountsIn(pf), true
				}
				if g < len(counted) && c.leaf < len(counted[g]) && counted[g][c.leaf] {
					continue
				}
			}
			if err := c.scan(ctx, chunks[c.leaf], first, g); err != nil {
				return err
			}
		}
		first += rg.NumRows()
	}
	return nil
}

// The footer as far as [nullCountsIn] reads it: thrift skips the other
// fields, and a pointer field is nil when the input lacks it.
type (
	footerMeta struct {
		RowGroups []footerRowGroup `thrift:"4"`
	}
	footerRowGroup struct {
		Columns []footerChunk `thrift:"1"`
	}
	footerChunk struct {
		MetaData *footerChunkMeta `thrift:"3"`
	}
	footerChunkMeta struct {
		Statistics *footerStats `thrift:"12"`
	}
	footerStats struct {
		NullCount *int64 `thrift:"3"`
	}
)

// nullCountsIn reads pf's footer again and reports, per row group and
// column chunk, whether the chunk's statistics hold a null_count. It
// returns nil (no count trusted: every chunk is scanned) when the footer
// cannot be read that way: an encrypted footer, a signed plaintext footer,
// column metadata stored encrypted or in another file.
func nullCountsIn(pf *parquet.File) [][]bool {
	size := pf.Size()
	if size < 12 {
		return nil
	}
	var tail [8]byte
	if _, err := pf.ReadAt(tail[:], size-8); err != nil || string(tail[4:]) != "PAR1" {
		return nil
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n <= 0 || n > size-12 {
		return nil
	}
	buf := make([]byte, n)
	if _, err := pf.ReadAt(buf, size-8-n); err != nil {
		return nil
	}
	var fm footerMeta
	if err := thrift.Unmarshal(&thrift.CompactProtocol{}, buf, &fm); err != nil {
		return nil
	}
	md := pf.Metadata()
	if len(fm.RowGroups) != len(md.RowGroups) {
		return nil
	}
	out := make([][]bool, len(fm.RowGroups))
	for g, rg := range fm.RowGroups {
		out[g] = make([]bool, len(rg.Columns))
		for c, ch := range rg.Columns {
			out[g][c] = ch.MetaData != nil && ch.MetaData.Statistics != nil && ch.MetaData.Statistics.NullCount != nil
		}
	}
	return out
}

// scan reads the definition levels of a column chunk and reports the first
// NULL T cannot hold.
func (c nullable) scan(ctx context.Context, chunk parquet.ColumnChunk, first int64, group int) error {
	pages := chunk.Pages()
	defer pages.Close()
	row := first - 1
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := pages.ReadPage()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("row group %d: column %q: %w", group, strings.Join(c.path, "."), err)
		}
		defs, reps := p.DefinitionLevels(), p.RepetitionLevels()
		for i, d := range defs {
			if len(reps) == 0 || reps[i] == 0 {
				row++
			}
			if int(d) < len(c.nullAt) && c.nullAt[d] != "" {
				parquet.Release(p)
				return fmt.Errorf("column %q is NULL at row %d (row group %d), which %s rows cannot hold (it would read as a zero value)",
					c.nullAt[d], row, group, c.rowType)
			}
		}
		parquet.Release(p)
	}
}

// annotation is the logical type of a leaf column, from its LogicalType or,
// for older writers, its ConvertedType.
type annotation struct {
	name   string // "" for none, "INT", "STRING", "DECIMAL", "TIMESTAMP", …
	text   string // as shown in errors, e.g. DECIMAL(18,2)
	bits   int    // INT only
	signed bool   // INT only
}

func (a annotation) String() string {
	if a.text == "" {
		return "(no logical type)"
	}
	return "(" + a.text + ")"
}

func annotationOf(t parquet.Type) annotation {
	if lt := t.LogicalType(); lt != nil && lt.Value != nil {
		switch v := lt.Value.(type) {
		case *format.IntType:
			return annotation{name: "INT", text: v.String(), bits: int(v.BitWidth), signed: v.IsSigned}
		case *format.StringType:
			return annotation{name: "STRING", text: v.String()}
		case *format.EnumType:
			return annotation{name: "ENUM", text: v.String()}
		case *format.JsonType:
			return annotation{name: "JSON", text: v.String()}
		case *format.BsonType:
			return annotation{name: "BSON", text: v.String()}
		}
		s := lt.Value.String()
		name, _, _ := strings.Cut(s, "(")
		return annotation{name: name, text: s}
	}
	ct := t.ConvertedType()
	if ct == nil {
		return annotation{}
	}
	if a, ok := convertedTypes[*ct]; ok {
		return a
	}
	s := fmt.Sprintf("converted type %d", *ct)
	return annotation{name: s, text: s}
}

// convertedTypes annotates the legacy converted types (files whose writers
// predate logical types).
var convertedTypes = func() map[deprecated.ConvertedType]annotation {
	m := map[deprecated.ConvertedType]annotation{
		deprecated.UTF8: {name: "STRING", text: "STRING"}, deprecated.Enum: {name: "ENUM", text: "ENUM"},
		deprecated.Json: {name: "JSON", text: "JSON"}, deprecated.Bson: {name: "BSON", text: "BSON"},
		deprecated.Decimal: {name: "DECIMAL", text: "DECIMAL"}, deprecated.Date: {name: "DATE", text: "DATE"},
		deprecated.TimeMillis: {name: "TIME", text: "TIME_MILLIS"}, deprecated.TimeMicros: {name: "TIME", text: "TIME_MICROS"},
		deprecated.TimestampMillis: {name: "TIMESTAMP", text: "TIMESTAMP_MILLIS"},
		deprecated.TimestampMicros: {name: "TIMESTAMP", text: "TIMESTAMP_MICROS"},
		deprecated.Interval:        {name: "INTERVAL", text: "INTERVAL"},
	}
	for ct, it := range map[deprecated.ConvertedType]struct {
		bits   int
		signed bool
	}{
		deprecated.Int8: {8, true}, deprecated.Int16: {16, true}, deprecated.Int32: {32, true}, deprecated.Int64: {64, true},
		deprecated.Uint8: {8, false}, deprecated.Uint16: {16, false}, deprecated.Uint32: {32, false}, deprecated.Uint64: {64, false},
	} {
		m[ct] = annotation{name: "INT", text: fmt.Sprintf("INT(%d,%t)", it.bits, it.signed), bits: it.bits, signed: it.signed}
	}
	return m
}()

// fits reports whether values of a column annotated a read correctly into a
// field annotated want, of physical kind k: integers of a width and
// signedness that fit, text (or plain binary) into a string, plain or text
// binary into []byte, otherwise the same annotation.
func (a annotation) fits(want annotation, k parquet.Kind) bool {
	if k == parquet.Int32 || k == parquet.Int64 {
		bits := 32
		if k == parquet.Int64 {
			bits = 64
		}
		if a.name == "" {
			a = annotation{name: "INT", bits: bits, signed: true}
		}
		if want.name == "" {
			want = annotation{name: "INT", bits: bits, signed: true}
		}
		if want.name == "INT" {
			return a.name == "INT" && (a.signed == want.signed && a.bits <= want.bits ||
				!a.signed && want.signed && a.bits < want.bits)
		}
	}
	if k == parquet.ByteArray {
		text := a.name == "" || a.name == "STRING" || a.name == "ENUM" || a.name == "JSON"
		switch want.name {
		case "STRING":
			return text
		case "":
			return text || a.name == "BSON"
		}
	}
	return a.text == want.text
}

// columnList names the columns of s, comma-separated.
func columnList(s *parquet.Schema) string {
	var names []string
	for _, p := range s.Columns() {
		names = append(names, strings.Join(p, "."))
	}
	return strings.Join(names, ", ")
}
