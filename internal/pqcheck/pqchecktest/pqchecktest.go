// Package pqchecktest damages Parquet files the way the tests of
// internal/pqcheck, internal/pqinspect and datasets/table need: a footer
// made by hand, a footer decoded, edited and written back, the header of a
// column chunk's first page edited with the footer's offsets moved to
// match. For tests only.
package pqchecktest

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// RawFooterFile returns a file of the PAR1 magic, footer and the footer's
// length and magic: a footer made by hand, as damage can leave it.
func RawFooterFile(footer []byte) []byte {
	b := append([]byte("PAR1"), footer...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(footer)))
	return append(b, "PAR1"...)
}

// FooterOf decodes the footer of the Parquet file data.
func FooterOf(t testing.TB, data []byte) format.FileMetaData {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), data[len(data)-8-n:len(data)-8], &md); err != nil {
		t.Fatal(err)
	}
	return md
}

// WithFooter returns data with its footer replaced by md.
func WithFooter(t testing.TB, data []byte, md *format.FileMetaData) []byte {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	footer, err := thrift.Marshal(new(thrift.CompactProtocol), md)
	if err != nil {
		t.Fatal(err)
	}
	out := append(bytes.Clone(data[:len(data)-8-n]), footer...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(footer)))
	return append(out, "PAR1"...)
}

// EditFooter returns data with its footer changed by edit.
func EditFooter(t testing.TB, data []byte, edit func(*format.FileMetaData)) []byte {
	t.Helper()
	md := FooterOf(t, data)
	edit(&md)
	return WithFooter(t, data, &md)
}

// EditFirstPage returns data with the header of the first page of column
// col of the first row group changed by edit, and the footer's offsets and
// sizes moved by the change of the header's length.
func EditFirstPage(t testing.TB, data []byte, col int, edit func(*format.PageHeader)) []byte {
	t.Helper()
	md := FooterOf(t, data)
	c0 := md.RowGroups[0].Columns[col].MetaData
	base := c0.DataPageOffset
	if c0.DictionaryPageOffset != 0 {
		base = c0.DictionaryPageOffset
	}
	r := new(thrift.CompactProtocol).NewReaderFromBytes(data[base:])
	var h format.PageHeader
	if err := thrift.NewDecoder(r).Decode(&h); err != nil {
		t.Fatal(err)
	}
	old := int64(r.BytesRead())
	edit(&h)
	nh, err := thrift.Marshal(new(thrift.CompactProtocol), &h)
	if err != nil {
		t.Fatal(err)
	}
	delta := int64(len(nh)) - old
	out := append(append(bytes.Clone(data[:base]), nh...), data[base+old:]...)
	return EditFooter(t, out, func(md *format.FileMetaData) {
		move := func(off *int64) {
			if *off > base {
				*off += delta
			}
		}
		for i := range md.RowGroups {
			for j := range md.RowGroups[i].Columns {
				c := &md.RowGroups[i].Columns[j]
				move(&c.MetaData.DataPageOffset)
				move(&c.MetaData.DictionaryPageOffset)
				move(&c.ColumnIndexOffset)
				move(&c.OffsetIndexOffset)
				if i == 0 && j == col {
					c.MetaData.TotalCompressedSize += delta
				}
			}
		}
	})
}

// Files writes test files into a temporary directory and keeps their
// bytes (the seed corpora of the Parquet fuzz targets).
type Files struct {
	t    testing.TB
	dir  string
	Data map[string][]byte // file name -> content
}

// NewFiles returns an empty Files in a new temporary directory of t.
func NewFiles(t testing.TB) *Files {
	return &Files{t: t, dir: t.TempDir(), Data: map[string][]byte{}}
}

// Write has fn write the file name (fn gets its path) and keeps its bytes.
func (f *Files) Write(name string, fn func(path string) error) {
	f.t.Helper()
	p := filepath.Join(f.dir, name)
	if err := fn(p); err != nil {
		f.t.Fatalf("%s: %v", name, err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		f.t.Fatal(err)
	}
	f.Data[name] = data
}
