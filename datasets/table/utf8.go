package table

import (
	"reflect"
	"strings"
	"unicode/utf8"
)

// textCheck finds the first value of a row that parquet-go would write into
// a STRING (or ENUM) column but that is not UTF-8. The Parquet format
// requires those values to be UTF-8, and readers hold it to that: DuckDB
// refuses the whole file ("Invalid string encoding found in Parquet file"),
// so a table with one such caption could not be opened outside coderflow.
// It is nil for a row type without text (feature rows): nothing to check.
type textCheck func(v reflect.Value) (column string, offset int, bad bool)

// newTextCheck returns the textCheck of the Go type t (nil if t holds no
// text column). Struct fields are named as in their parquet tags; a string
// tagged "bytes" or "uuid" is not text, a []byte tagged "string" is.
func newTextCheck(t reflect.Type, name string) textCheck {
	switch t.Kind() {
	case reflect.String:
		return func(v reflect.Value) (string, int, bool) {
			s := v.String()
			if utf8.ValidString(s) {
				return "", 0, false
			}
			return name, invalidAt(s), true
		}
	case reflect.Pointer:
		elem := newTextCheck(t.Elem(), name)
		if elem == nil {
			return nil
		}
		return func(v reflect.Value) (string, int, bool) {
			if v.IsNil() {
				return "", 0, false
			}
			return elem(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // binary, unless tagged "string" (see below)
		}
		elem := newTextCheck(t.Elem(), name)
		if elem == nil {
			return nil
		}
		return func(v reflect.Value) (string, int, bool) {
			for i := range v.Len() {
				if c, off, bad := elem(v.Index(i)); bad {
					return c, off, bad
				}
			}
			return "", 0, false
		}
	case reflect.Map:
		key, elem := newTextCheck(t.Key(), name+".key"), newTextCheck(t.Elem(), name+".value")
		if key == nil && elem == nil {
			return nil
		}
		return func(v reflect.Value) (string, int, bool) {
			for it := v.MapRange(); it.Next(); {
				if key != nil {
					if c, off, bad := key(it.Key()); bad {
						return c, off, bad
					}
				}
				if elem != nil {
					if c, off, bad := elem(it.Value()); bad {
						return c, off, bad
					}
				}
			}
			return "", 0, false
		}
	case reflect.Struct:
		type field struct {
			index int
			check textCheck
		}
		var fields []field
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("parquet")
			if tag == "-" {
				continue
			}
			fname, opts, _ := strings.Cut(tag, ",")
			if fname == "" {
				fname = f.Name
			}
			if name != "" {
				fname = name + "." + fname
			}
			var c textCheck
			switch isOpt := func(o string) bool { return hasOption(opts, o) }; {
			case isOpt("bytes") || isOpt("uuid"):
			case isOpt("string") && f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Uint8:
				c = bytesTextCheck(fname)
			default:
				c = newTextCheck(f.Type, fname)
			}
			if c != nil {
				fields = append(fields, field{i, c})
			}
		}
		if len(fields) == 0 {
			return nil
		}
		return func(v reflect.Value) (string, int, bool) {
			for _, f := range fields {
				if c, off, bad := f.check(v.Field(f.index)); bad {
					return c, off, bad
				}
			}
			return "", 0, false
		}
	}
	return nil
}

func bytesTextCheck(name string) textCheck {
	return func(v reflect.Value) (string, int, bool) {
		b := v.Bytes()
		if utf8.Valid(b) {
			return "", 0, false
		}
		return name, invalidAt(string(b)), true
	}
}

// hasOption reports whether the comma-separated tag options opts hold o
// (an option may carry arguments in parentheses: "decimal(2,9)").
func hasOption(opts, o string) bool {
	for opts != "" {
		var cur string
		cur, opts, _ = strings.Cut(opts, ",")
		if cur == o || strings.HasPrefix(cur, o+"(") {
			return true
		}
	}
	return false
}

// invalidAt returns the byte offset of the first invalid UTF-8 in s.
func invalidAt(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return i
			}
		}
	}
	return len(s)
}
