package table

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"coderflow/internal/atomicfile"
	"coderflow/internal/pqcheck"
	"coderflow/pipeline"
)

// Key-value metadata keys written into every table file.
const (
	MetaStage   = "coderflow.stage"
	MetaKind    = "coderflow.kind"
	MetaKey     = "coderflow.key"
	MetaVersion = "coderflow.version"
	MetaTable   = "coderflow.table"
)

// Compressions lists the codec names accepted by [Codec] (for stage params).
var Compressions = []string{"zstd", "snappy", "gzip", "none"}

// codecs are the codecs of the names in [Compressions], one value each (they
// are safe for concurrent use), so that writers naming the same compression
// share a codec and [Reuse] can hand their encoders from file to file.
var codecs = map[string]compress.Codec{
	"zstd":   &zstd.Codec{},
	"snappy": &snappy.Codec{},
	"gzip":   &gzip.Codec{},
	"none":   &uncompressed.Codec{},
	"":       &uncompressed.Codec{},
}

// Codec returns the parquet-go codec for a name in [Compressions].
func Codec(name string) (compress.Codec, error) {
	if c, ok := codecs[name]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("unknown compression %q (want one of zstd, snappy, gzip, none)", name)
}

// Options configure a [Writer].
type Options struct {
	Compression  string // a name in Compressions; default zstd
	RowGroupRows int64  // rows per row group at most; default 4096
	// ExpectedRows, when > 0, is the number of rows the file will get (a
	// hint; WriteFile sets it). When it leaves a partial last row group,
	// the last two row groups share the remainder (875 rows at 256 become
	// 256, 256, 182 and 181 rather than 256, 256, 256 and 107): no small
	// straggler, and row groups compressed in parallel (Workers) finish
	// together.
	ExpectedRows int64
	Meta         map[string]string // extra key-value metadata (not the Meta* keys)
	// Codec, when set, overrides Compression (e.g. zstd at a chosen level:
	// &zstd.Codec{Level: zstd.SpeedFastest}).
	Codec compress.Codec
	// Workers, when >= 1, encodes and compresses row groups on up to
	// Workers goroutines and splices them into the file in order (see
	// groupWriter): for wide rows whose compression dominates the write,
	// such as feature shards. The writer then keeps written rows until
	// their row group is encoded: callers must not modify memory that
	// written rows reference (the []T itself may be reused). The file is
	// the same as with Workers 0, parquet-go's streaming writer.
	Workers int
	// NoBounds names top-level columns whose page and chunk min/max
	// statistics are not computed, for values no reader filters on (feature
	// vectors): computing them is a tenth of a feature shard's write time.
	NoBounds []string
	// AllowInvalidText writes string values that are not UTF-8 as they
	// are instead of refusing them (see [Writer.Write]): only for tests
	// that fake a foreign table, whose readers must cope with such text.
	// DuckDB refuses the files.
	AllowInvalidText bool
	// Reuse, when set, keeps the row-group encoders and buffers of
	// Workers >= 1 from one file to the next (see [Reuse]): set one Reuse
	// in the options a stage writes all its shards with.
	Reuse *Reuse
}

// Writer writes rows of T to one Parquet file atomically.
type Writer[T any] struct {
	f        *atomicfile.File
	w        *parquet.GenericWriter[T]
	g        *groupWriter[T] // non-nil with Options.Workers >= 1
	plan     groupPlan
	group    int64 // index of the current row group (streaming writer)
	inGroup  int64 // rows in it so far
	release  func([]T)
	rows     int64
	path     string
	text     textCheck // nil, or the check that text values are UTF-8
	ended    bool      // Close or Abort was called
	closeErr error     // what Close returned
	// writeErr is the first error a Write returned: the file may lack
	// rows the caller wrote (a row group that failed to encode or splice,
	// rows after the failure), so Close discards it instead of committing
	// it, and later Writes fail too.
	writeErr error
}

// Create starts a table file at path (created atomically on Close) with
// metadata naming the stage of env (env may be nil in tools and tests).
func Create[T any](path string, env *pipeline.Env, name string, opt Options) (*Writer[T], error) {
	codec, err := Codec(opt.Compression)
	if opt.Compression == "" {
		codec, err = codecs["zstd"], nil
	}
	if opt.Codec != nil {
		codec, err = opt.Codec, nil
	}
	if err != nil {
		return nil, err
	}
	for _, k := range []string{MetaTable, MetaStage, MetaKind, MetaKey, MetaVersion} {
		if _, ok := opt.Meta[k]; ok {
			return nil, fmt.Errorf("%s: Options.Meta sets %s, which the writer sets itself (the file's provenance)", path, k)
		}
	}
	rg := opt.RowGroupRows
	if rg <= 0 {
		rg = 4096
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, err
	}
	// Options shared by the file's writer and groupWriter's row-group
	// encoders (equal settings let the row groups be copied verbatim).
	enc := []parquet.WriterOption{parquet.Compression(codec), parquet.MaxRowsPerRowGroup(rg)}
	if len(opt.NoBounds) > 0 {
		for _, leaf := range parquet.SchemaOf(new(T)).Columns() {
			if slices.Contains(opt.NoBounds, leaf[0]) {
				enc = append(enc, parquet.SkipPageBounds(leaf...), parquet.SkipPageStatistics(leaf...))
			}
		}
	}
	wopts := append(slices.Clip(enc), parquet.KeyValueMetadata(MetaTable, name))
	if env != nil {
		wopts = append(wopts,
			parquet.KeyValueMetadata(MetaStage, env.StageID),
			parquet.KeyValueMetadata(MetaKind, env.Kind),
			parquet.KeyValueMetadata(MetaKey, env.Key))
		if s, ok := pipeline.Default.Lookup(env.Kind); ok {
			wopts = append(wopts, parquet.KeyValueMetadata(MetaVersion, s.Version))
		}
	}
	for k, v := range opt.Meta {
		wopts = append(wopts, parquet.KeyValueMetadata(k, v))
	}
	w := &Writer[T]{f: f, w: parquet.NewGenericWriter[T](f, wopts...), path: path, plan: groupPlan{rg: rg, n: opt.ExpectedRows}}
	if !opt.AllowInvalidText {
		w.text = newTextCheck(reflect.TypeFor[T](), "")
	}
	if opt.Workers >= 1 {
		key := fmt.Sprintf("%T|%s|%p|%d|%q", *new(T), codec.CompressionCodec(), codec, rg, opt.NoBounds)
		w.g = newGroupWriter(w.w, enc, w.plan, opt.Workers, opt.Reuse, key)
		w.g.spliced = f.StartWriteback
	}
	return w, nil
}

// Write appends rows. The slice may be reused once Write returns; with
// Options.Workers >= 1 the memory the rows reference may not, until
// [Writer.OnRelease]'s function hands it back. After an error the writer
// takes no more rows, and Close discards the file. A text value (a string
// field) that is not UTF-8 is an error naming its row and column, and no
// row of the call is written: Parquet text must be UTF-8, and DuckDB
// refuses a file with one such value.
func (w *Writer[T]) Write(rows []T) error {
	if w.ended {
		return fmt.Errorf("%s: write after Close or Abort", w.path)
	}
	if w.writeErr != nil {
		return fmt.Errorf("%s: write after a failed write: %w", w.path, w.writeErr)
	}
	if w.text != nil {
		for i := range rows {
			if col, off, bad := w.text(reflect.ValueOf(&rows[i]).Elem()); bad {
				w.writeErr = fmt.Errorf("row %d: column %q: invalid UTF-8 at byte %d (Parquet text must be UTF-8: DuckDB and Arrow readers refuse the file)",
					w.rows+int64(i), col, off)
				return fmt.Errorf("%s: %w", w.path, w.writeErr)
			}
		}
	}
	var n int
	var err error
	if w.g != nil {
		n, err = w.g.write(rows)
	} else {
		n, err = w.writeStream(rows)
		if w.release != nil {
			w.release(rows[:n])
		}
	}
	w.rows += int64(n)
	if err != nil {
		w.writeErr = err
		return fmt.Errorf("%s: %w", w.path, err)
	}
	return nil
}

// OnRelease sets a function called with rows the writer no longer
// references, so callers can recycle the memory they point to: with
// Options.Workers >= 1 once their row group is encoded (on the encoding
// goroutine, possibly concurrently with other calls), otherwise at the end
// of the Write that took them. Call it before the first Write.
func (w *Writer[T]) OnRelease(fn func(rows []T)) {
	w.release = fn
	if w.g != nil {
		w.g.release = fn
	}
}

// writeStream writes rows with parquet-go's streaming writer, ending row
// groups where w.plan says.
func (w *Writer[T]) writeStream(rows []T) (int, error) {
	written := 0
	for len(rows) > 0 {
		k := int(min(int64(len(rows)), w.plan.size(w.group)-w.inGroup))
		m, err := w.w.Write(rows[:k])
		written += m
		w.inGroup += int64(m)
		if err != nil {
			return written, err
		}
		rows = rows[k:]
		if w.inGroup == w.plan.size(w.group) {
			if err := w.w.Flush(); err != nil {
				return written, err
			}
			w.f.StartWriteback()
			w.group++
			w.inGroup = 0
		}
	}
	return written, nil
}

// Rows returns the number of rows written so far.
func (w *Writer[T]) Rows() int64 { return w.rows }

// Close flushes the footer and renames the file into place. After a
// failed Write it discards the file instead (it may lack rows) and returns
// that error. Calling it again returns the first call's result (the
// Workers >= 1 writer waited forever for encoders it had already handed
// back).
func (w *Writer[T]) Close() error {
	if w.ended {
		return w.closeErr
	}
	w.closeErr = w.close()
	w.ended = true
	return w.closeErr
}

func (w *Writer[T]) close() error {
	if w.writeErr != nil {
		w.Abort()
		return fmt.Errorf("%s: not written: an earlier write failed: %w", w.path, w.writeErr)
	}
	if w.g != nil {
		if err := w.g.flush(); err != nil {
			w.Abort()
			return fmt.Errorf("%s: %w", w.path, err)
		}
	}
	if err := w.w.Close(); err != nil {
		w.f.Abort()
		return fmt.Errorf("%s: %w", w.path, err)
	}
	return w.f.Commit()
}

// Abort discards the file. It is a no-op after Close.
func (w *Writer[T]) Abort() {
	if w.ended {
		return
	}
	w.ended = true
	if w.closeErr == nil {
		w.closeErr = fmt.Errorf("%s: aborted", w.path)
	}
	if w.g != nil {
		w.g.abort()
	}
	w.f.Abort()
}

// WriteFile writes all rows to path in one call.
func WriteFile[T any](path string, env *pipeline.Env, name string, opt Options, rows []T) error {
	opt.ExpectedRows = int64(len(rows))
	w, err := Create[T](path, env, name, opt)
	if err != nil {
		return err
	}
	defer w.Abort()
	if err := w.Write(rows); err != nil {
		return err
	}
	return w.Close()
}

// Scan reads files in order and calls fn with batches of at most batch rows.
// The slice passed to fn is reused: copy what you keep (slices inside rows
// are not reused). It stops at the first error, including ctx's.
func Scan[T any](ctx context.Context, files []string, batch int, fn func([]T) error) error {
	if batch <= 0 {
		batch = 1024
	}
	buf := make([]T, batch)
	for _, path := range files {
		if err := scanFile(ctx, path, buf, fn); err != nil {
			return err
		}
	}
	return nil
}

func scanFile[T any](ctx context.Context, path string, buf []T, fn func([]T) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	pf, err := openFile(f, st.Size())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	nullable, err := checkSchema[T](pf)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := checkPages(ctx, f, pf); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := checkNulls(ctx, pf, nullable); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	r, err := newReader[T](pf)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer r.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		clear(buf)
		n, err := read(r, buf)
		if n > 0 {
			if ferr := fn(buf[:n]); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
}

// openFile is parquet.OpenFile of a file whose footer [pqcheck.Footer]
// accepts (parquet-go allocates the footer's lengths and counts before it
// reads them: a damaged footer cost gigabytes, or a fatal out-of-memory
// crash), with a panic on a damaged footer returned as an error. The page
// index and bloom filters, which table's readers do not use, are not read:
// parquet-go allocates their lengths from the footer and decodes them
// unchecked too.
func openFile(f *os.File, size int64) (pf *parquet.File, err error) {
	if err := pqcheck.Footer(f, size); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			pf, err = nil, fmt.Errorf("corrupt Parquet file: %v", p)
		}
	}()
	return parquet.OpenFile(f, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
}

// checkPages checks the page headers of every row group of pf (see
// [pqcheck.PagesAndCounts]) before any of its pages is read: parquet-go
// allocates a page's sizes and value counts before it reads the page, and
// reads the rows its headers count, one more or one less than the
// footer's included.
func checkPages(ctx context.Context, f io.ReaderAt, pf *parquet.File) error {
	md := pf.Metadata()
	for g := range md.RowGroups {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := pqcheck.PagesAndCounts(f, pf.Size(), &md.RowGroups[g]); err != nil {
			return fmt.Errorf("row group %d: %w", g, err)
		}
	}
	return nil
}

// newReader is parquet.NewGenericReader, with its panics (it panics on
// errors) returned as an error.
func newReader[T any](pf *parquet.File) (r *parquet.GenericReader[T], err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("corrupt Parquet file: %v", p)
		}
	}()
	return parquet.NewGenericReader[T](pf), nil
}

// read is r.Read, with a panic of parquet-go on damaged pages (it has
// index-out-of-range panics on some) returned as an error.
func read[T any](r *parquet.GenericReader[T], buf []T) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, fmt.Errorf("corrupt Parquet data: %v", p)
		}
	}()
	return r.Read(buf)
}

// ReadAll reads every row of files. Use it only for tables that are small by
// nature (vocab, concepts); stream the large ones with [Scan].
func ReadAll[T any](ctx context.Context, files ...string) ([]T, error) {
	var out []T
	err := Scan(ctx, files, 4096, func(b []T) error { out = append(out, b...); return nil })
	return out, err
}

// ReadMeta returns the key-value metadata of a Parquet file.
func ReadMeta(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	pf, err := openFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m := map[string]string{}
	for _, kv := range pf.Metadata().KeyValueMetadata {
		m[kv.Key] = kv.Value
	}
	return m, nil
}

// ResolvePath returns an image path from the images table as an absolute
// path: relative paths are relative to the artifact directory.
func ResolvePath(artifactDir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(artifactDir, filepath.FromSlash(p))
}
