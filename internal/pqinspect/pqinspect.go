// Package pqinspect describes Parquet files for `coderflow inspect`: schema,
// row groups with per-column codec and sizes, key-value metadata, and the
// first rows (long lists abbreviated).
package pqinspect

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/parquet-go/parquet-go"
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

func open(path string) (*parquet.File, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: not a readable Parquet file: %w", path, err)
	}
	return pf, f, nil
}

// Describe reads the footer of a Parquet file.
func Describe(path string) (*Info, error) {
	pf, f, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	md := pf.Metadata()
	info := &Info{Path: path, Size: pf.Size(), Rows: pf.NumRows(), CreatedBy: md.CreatedBy,
		Schema: strings.TrimSpace(pf.Schema().String()), Meta: map[string]string{}}
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

// Head returns the first n rows as maps from column name to value. Lists
// longer than maxList items are cut to their first maxList items followed by
// a "… (N items)" marker (maxList <= 0 keeps them whole).
func Head(path string, n, maxList int) ([]map[string]any, error) {
	pf, f, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := parquet.NewReader(pf)
	defer r.Close()
	var out []map[string]any
	for len(out) < n {
		m := map[string]any{}
		if err := r.Read(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return out, fmt.Errorf("%s: row %d: %w", path, len(out), err)
		}
		if maxList > 0 {
			for k, v := range m {
				if l, ok := v.([]any); ok && len(l) > maxList {
					cut := append([]any{}, l[:maxList]...)
					m[k] = append(cut, fmt.Sprintf("… (%d items)", len(l)))
				}
			}
		}
		out = append(out, m)
	}
	return out, nil
}
