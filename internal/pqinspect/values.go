package pqinspect

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

// decoder turns one parquet.Row into JSON-safe Go values following the
// file's schema (definition and repetition levels), so that any writer's
// file displays faithfully: parquet-go's own reconstruction into map[string]any
// turns integer map keys into runes and panics on unusual schemas.
type decoder struct {
	root    parquet.Node
	maxList int
	keys    []string                // keys of the top-level columns (see Keys)
	raw     []*format.SchemaElement // footer elements of the leaves, or nil
	cols    [][]parquet.Value
}

func leafCount(n parquet.Node) int {
	if n.Leaf() {
		return 1
	}
	c := 0
	for _, f := range n.Fields() {
		c += leafCount(f)
	}
	return c
}

// row decodes one row into a map from top-level column name to value.
func (d *decoder) row(row parquet.Row) (map[string]any, error) {
	ncol := leafCount(d.root)
	if cap(d.cols) < ncol {
		d.cols = make([][]parquet.Value, ncol)
	}
	d.cols = d.cols[:ncol]
	for i := range d.cols {
		d.cols[i] = d.cols[i][:0]
	}
	for _, v := range row {
		c := v.Column()
		if c < 0 || c >= ncol {
			return nil, fmt.Errorf("value for column %d, the schema has %d", c, ncol)
		}
		d.cols[c] = append(d.cols[c], v)
	}
	for i, c := range d.cols {
		if len(c) == 0 {
			return nil, fmt.Errorf("no value for column %d", i)
		}
	}
	out := map[string]any{}
	off := 0
	for i, f := range d.root.Fields() {
		k := leafCount(f)
		v, err := d.field(f, 0, 0, d.cols[off:off+k])
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", f.Name(), err)
		}
		if l, ok := v.([]any); ok && f.Repeated() {
			v = d.cut(l) // a bare repeated column (protobuf style)
		}
		out[d.keys[i]] = v
		off += k
	}
	return out, nil
}

// field decodes a node with its own repetition (optional, repeated).
func (d *decoder) field(n parquet.Node, def, rep int, cols [][]parquet.Value) (any, error) {
	switch {
	case n.Repeated():
		def++
		rep++
		if cols[0][0].DefinitionLevel() < def {
			return []any{}, nil
		}
		// Split every column into the items of this repeated node: a new
		// item starts where the repetition level is at most rep.
		items := splitItems(cols[0], rep)
		segs := make([][][]parquet.Value, len(items))
		for i := range segs {
			segs[i] = make([][]parquet.Value, len(cols))
		}
		for j, c := range cols {
			parts := splitItems(c, rep)
			if len(parts) != len(items) {
				return nil, fmt.Errorf("inconsistent repetition levels")
			}
			for i, p := range parts {
				segs[i][j] = p
			}
		}
		out := make([]any, 0, len(items))
		for i := range items {
			v, err := d.value(n, def, rep, segs[i])
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case n.Optional():
		def++
		if cols[0][0].DefinitionLevel() < def {
			return nil, nil
		}
	}
	return d.value(n, def, rep, cols)
}

func splitItems(c []parquet.Value, rep int) [][]parquet.Value {
	var out [][]parquet.Value
	start := 0
	for i := 1; i <= len(c); i++ {
		if i == len(c) || c[i].RepetitionLevel() <= rep {
			out = append(out, c[start:i])
			start = i
		}
	}
	return out
}

// value decodes a node once its own repetition is accounted for.
func (d *decoder) value(n parquet.Node, def, rep int, cols [][]parquet.Value) (any, error) {
	if n.Leaf() {
		v := cols[0][0]
		var raw *format.SchemaElement
		if c := v.Column(); c >= 0 && c < len(d.raw) {
			raw = d.raw[c]
		}
		return leafValue(n.Type(), raw, v, d.maxList > 0), nil
	}
	fields := n.Fields()
	var isList, isMap bool
	switch logical(n.Type()).(type) {
	case *format.ListType:
		isList = true
	case *format.MapType:
		isMap = true
	}
	if ct := n.Type().ConvertedType(); ct != nil {
		isList = isList || *ct == deprecated.List
		isMap = isMap || *ct == deprecated.Map || *ct == deprecated.MapKeyValue
	}
	if (isList || isMap) && len(fields) == 1 && fields[0].Repeated() {
		v, err := d.field(fields[0], def, rep, cols)
		if err != nil {
			return nil, err
		}
		items := v.([]any)
		inner := fields[0]
		if isMap && !inner.Leaf() && len(inner.Fields()) == 2 {
			return d.mapValue(items, inner.Fields()[0].Name(), inner.Fields()[1].Name()), nil
		}
		if !inner.Leaf() && len(inner.Fields()) == 1 && !legacyElement(n, inner) {
			name := inner.Fields()[0].Name()
			for i, it := range items {
				items[i] = it.(map[string]any)[name]
			}
		}
		return d.cut(items), nil
	}
	out := make(map[string]any, len(fields))
	off := 0
	for _, f := range fields {
		k := leafCount(f)
		v, err := d.field(f, def, rep, cols[off:off+k])
		if err != nil {
			return nil, err
		}
		if l, ok := v.([]any); ok && f.Repeated() {
			v = d.cut(l)
		}
		out[f.Name()] = v
		off += k
	}
	return out, nil
}

// legacyElement reports whether the repeated one-field group inner of the
// LIST group list is itself the element (a struct of one field), not a
// wrapper of it: by the Parquet format's backward-compatibility rules for
// lists, when it is named "array" or the list's name followed by "_tuple"
// (old Avro and Thrift writers).
func legacyElement(list parquet.Node, inner parquet.Field) bool {
	if inner.Name() == "array" {
		return true
	}
	f, ok := list.(parquet.Field)
	return ok && inner.Name() == f.Name()+"_tuple"
}

// cut abbreviates a list longer than maxList items.
func (d *decoder) cut(l []any) []any {
	if d.maxList > 0 && len(l) > d.maxList {
		return append(l[:d.maxList:d.maxList], fmt.Sprintf("… (%d items)", len(l)))
	}
	return l
}

// mapValue renders MAP entries as a JSON object; keys that are not strings
// are written in their JSON form ("7", "true"), and a key that is itself a
// group keeps the entries as a list of {key, value} objects. Like lists,
// maps of more than maxList entries are cut: their first maxList entries
// and a "…" key whose value is "(N entries)".
func (d *decoder) mapValue(items []any, kname, vname string) any {
	n := len(items)
	if d.maxList > 0 && n > d.maxList {
		n = d.maxList
	}
	out := make(map[string]any, n+1)
	for _, it := range items[:n] {
		kv := it.(map[string]any)
		var key string
		switch k := kv[kname].(type) {
		case string:
			key = k
		case map[string]any, []any:
			return d.cut(items)
		default:
			b, _ := json.Marshal(k)
			key = string(b)
		}
		out[key] = kv[vname]
	}
	if n < len(items) {
		out["…"] = fmt.Sprintf("(%d entries)", len(items))
	}
	return out
}

// Abbreviation limits of long values when lists are abbreviated (an image
// stored as bytes would print megabytes of hex per row).
const (
	maxText   = 512
	maxBinary = 32
)

// leafValue converts a primitive value by its physical and logical type (raw,
// the column's footer element, when known, for logical types parquet-go
// drops). Floats that JSON cannot hold (NaN, ±Inf) become strings, binary
// that is not UTF-8 text becomes "0x…" hex, timestamps, dates, times and
// intervals become ISO 8601 strings, FLOAT16 values float32, decimals exact
// numbers, UUIDs their canonical form. With cut, text longer than maxText
// bytes and binary longer than maxBinary bytes are shortened and followed by
// "… (N bytes)".
func leafValue(t parquet.Type, raw *format.SchemaElement, v parquet.Value, cut bool) any {
	if v.IsNull() {
		return nil
	}
	lv := logical(t)
	if lv == nil && raw != nil {
		lv = raw.LogicalType.Value
	}
	_, isFloat16 := lv.(*format.Float16Type)
	dec, _ := lv.(*format.DecimalType)
	ts, _ := lv.(*format.TimestampType)
	tm, _ := lv.(*format.TimeType)
	it, _ := lv.(*format.IntType)
	_, isDate := lv.(*format.DateType)
	_, isUUID := lv.(*format.UUIDType)
	var isText bool
	switch lv.(type) {
	case *format.StringType, *format.EnumType, *format.JsonType:
		isText = true
	}
	ct := t.ConvertedType()
	is := func(c deprecated.ConvertedType) bool { return ct != nil && *ct == c }
	switch v.Kind() {
	case parquet.Boolean:
		return v.Boolean()
	case parquet.Int32:
		x := v.Int32()
		switch {
		case isDate || is(deprecated.Date):
			return time.Unix(int64(x)*86400, 0).UTC().Format("2006-01-02")
		case tm != nil:
			return timeOfDay(int64(x), tm.Unit, tm.IsAdjustedToUTC)
		case is(deprecated.TimeMillis): // adjusted to UTC, by the format's rules
			return timeOfDay(int64(x), format.TimeUnit{Value: &format.MilliSeconds{}}, true)
		case dec != nil:
			return decimal(big.NewInt(int64(x)), dec.Scale)
		case it != nil && !it.IsSigned, is(deprecated.Uint8), is(deprecated.Uint16), is(deprecated.Uint32):
			return uint32(x)
		}
		return x
	case parquet.Int64:
		x := v.Int64()
		switch {
		case ts != nil:
			return timestamp(x, ts.Unit, ts.IsAdjustedToUTC)
		case is(deprecated.TimestampMillis):
			return timestamp(x, format.TimeUnit{Value: &format.MilliSeconds{}}, true)
		case is(deprecated.TimestampMicros):
			return timestamp(x, format.TimeUnit{Value: &format.MicroSeconds{}}, true)
		case tm != nil:
			return timeOfDay(x, tm.Unit, tm.IsAdjustedToUTC)
		case is(deprecated.TimeMicros):
			return timeOfDay(x, format.TimeUnit{Value: &format.MicroSeconds{}}, true)
		case dec != nil:
			return decimal(big.NewInt(x), dec.Scale)
		case it != nil && !it.IsSigned, is(deprecated.Uint64):
			return uint64(x)
		}
		return x
	case parquet.Int96:
		// INT96 holds a legacy timestamp: nanoseconds of the day, then the Julian day.
		i := v.Int96()
		nanos := int64(uint64(i[1])<<32 | uint64(i[0]))
		if nanos < 0 || nanos >= 86400e9 {
			// time.Unix would carry it into another day: a wrong date
			return fmt.Sprintf("invalid INT96 timestamp (Julian day %d, %d ns into the day)", i[2], nanos)
		}
		days := int64(i[2]) - 2440588
		return time.Unix(days*86400, nanos).UTC().Format(time.RFC3339Nano)
	case parquet.Float:
		return float32Value(v.Float())
	case parquet.Double:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
		return f
	case parquet.ByteArray, parquet.FixedLenByteArray:
		b := v.ByteArray()
		switch {
		case isUUID && len(b) == 16:
			h := hex.EncodeToString(b)
			return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
		case dec != nil:
			return decimal(twosComplement(b), dec.Scale)
		case isFloat16 && len(b) == 2:
			return float32Value(float16(binary.LittleEndian.Uint16(b)))
		case is(deprecated.Interval) && len(b) == 12:
			return isoDuration(binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:]))
		case utf8.Valid(b) && (v.Kind() == parquet.ByteArray || isText ||
			is(deprecated.UTF8) || is(deprecated.Enum) || is(deprecated.Json)):
			// Text that is not UTF-8, even annotated STRING, ENUM or JSON,
			// is shown as hex below (string(b) would turn it into U+FFFD).
			if cut && len(b) > maxText {
				k := maxText
				for k > 0 && !utf8.RuneStart(b[k]) {
					k--
				}
				return fmt.Sprintf("%s… (%d bytes)", b[:k], len(b))
			}
			return string(b)
		}
		if cut && len(b) > maxBinary {
			return fmt.Sprintf("0x%s… (%d bytes)", hex.EncodeToString(b[:maxBinary]), len(b))
		}
		return "0x" + hex.EncodeToString(b)
	}
	return v.String()
}

func unitNanos(u format.TimeUnit) int64 {
	switch u.Value.(type) {
	case *format.MilliSeconds:
		return 1e6
	case *format.MicroSeconds:
		return 1e3
	}
	return 1
}

func timestamp(x int64, u format.TimeUnit, utc bool) string {
	m := unitNanos(u)
	t := time.Unix(x/(1e9/m), (x%(1e9/m))*m).UTC()
	if utc {
		return t.Format(time.RFC3339Nano)
	}
	return t.Format("2006-01-02T15:04:05.999999999")
}

// timeOfDay formats a TIME value; one adjusted to UTC ends in Z.
func timeOfDay(x int64, u format.TimeUnit, utc bool) string {
	if x < 0 || x >= 86400e9/unitNanos(u) {
		// formatting would wrap it into the day (or overflow): 25 hours
		// would show as 01:00
		return fmt.Sprintf("invalid TIME %d (%s since midnight)", x, map[int64]string{1e6: "ms", 1e3: "µs", 1: "ns"}[unitNanos(u)])
	}
	d := time.Duration(x * unitNanos(u))
	s := time.Unix(0, int64(d)).UTC().Format("15:04:05.999999999")
	if utc {
		s += "Z"
	}
	return s
}

// float32Value is f, or for NaN and ±Inf, which JSON cannot hold, the
// strings "NaN", "+Inf" and "-Inf".
func float32Value(f float32) any {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return strconv.FormatFloat(float64(f), 'g', -1, 32)
	}
	return f
}

// float16 converts IEEE 754 half-precision bits to a float32 (exactly: every
// half-precision value is a float32 value).
func float16(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h & 0x3ff)
	switch exp {
	case 0x1f: // ±Inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case 0: // ±0, subnormal: frac × 2^-24
		f := float32(frac) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp-15+127)<<23 | frac<<13)
}

// isoDuration formats a Parquet INTERVAL (months, days and milliseconds,
// kept apart as the format does) as an ISO 8601 duration: 14 months, 3 days
// and 3,723,004 ms are "P1Y2M3DT1H2M3.004S", zero is "PT0S". Months become
// years and milliseconds hours and minutes, which are exact; days are not
// turned into months nor milliseconds into days, which are not.
func isoDuration(months, days, millis uint32) string {
	var b strings.Builder
	b.WriteByte('P')
	if y := months / 12; y > 0 {
		fmt.Fprintf(&b, "%dY", y)
	}
	if m := months % 12; m > 0 {
		fmt.Fprintf(&b, "%dM", m)
	}
	if days > 0 {
		fmt.Fprintf(&b, "%dD", days)
	}
	if millis > 0 {
		b.WriteByte('T')
		if h := millis / 3_600_000; h > 0 {
			fmt.Fprintf(&b, "%dH", h)
		}
		if m := millis / 60_000 % 60; m > 0 {
			fmt.Fprintf(&b, "%dM", m)
		}
		if s, ms := millis/1000%60, millis%1000; ms > 0 {
			fmt.Fprintf(&b, "%sS", strings.TrimRight(fmt.Sprintf("%d.%03d", s, ms), "0"))
		} else if s > 0 {
			fmt.Fprintf(&b, "%dS", s)
		}
	}
	if b.Len() == 1 {
		return "PT0S"
	}
	return b.String()
}

func twosComplement(b []byte) *big.Int {
	x := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	return x
}

// maxDecimalPad is how many zeros decimal writes beyond the digits before
// it switches to exponent notation.
const maxDecimalPad = 64

// decimal formats an unscaled integer with scale digits after the point as
// an exact JSON number. A scale far beyond the digits (a damaged footer can
// say 2^31-1, which written out would be gigabytes of zeros) gives the
// exponent form, as exact: unscaled 5 with scale 1000 is 5E-1000.
func decimal(x *big.Int, scale int32) json.Number {
	s := new(big.Int).Abs(x).String()
	if sc := int64(scale); sc > int64(len(s))+maxDecimalPad || sc < -maxDecimalPad {
		return json.Number(x.String() + "E" + strconv.FormatInt(-sc, 10))
	}
	if scale > 0 {
		if len(s) <= int(scale) {
			s = strings.Repeat("0", int(scale)-len(s)+1) + s
		}
		s = s[:len(s)-int(scale)] + "." + s[len(s)-int(scale):]
	} else if scale < 0 {
		s += strings.Repeat("0", int(-scale))
	}
	if x.Sign() < 0 {
		s = "-" + s
	}
	return json.Number(s)
}

// logical returns the logical type annotation of t, or nil.
func logical(t parquet.Type) format.LogicalTypeValue {
	if lt := t.LogicalType(); lt != nil {
		return lt.Value
	}
	return nil
}
