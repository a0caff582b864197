package testenv

import (
	"os"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// WriteArrowParquet writes rec to a new Parquet file at path with arrow-go's
// writer: a file from another writer than the project's own (parquet-go),
// for the readers' tests. props and aprops may be nil for the defaults.
func WriteArrowParquet(t testing.TB, path string, rec arrow.Record, props *parquet.WriterProperties, aprops *pqarrow.ArrowWriterProperties) {
	t.Helper()
	if props == nil {
		props = parquet.NewWriterProperties()
	}
	ap := pqarrow.DefaultWriterProps()
	if aprops != nil {
		ap = *aprops
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := pqarrow.NewFileWriter(rec.Schema(), f, props, ap)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
