package arrowfeat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"coderflow/internal/pqcheck"
)

// Columns are the feature-table columns every batch carries, in order.
var Columns = Features.Columns()

// Layout is a table a [Reader] streams: the columns every batch carries, in
// this order, with their types (list element names and nullability are not
// compared). A file with the columns in another order, or with extra
// columns, is read all the same, as table.Scan reads it.
type Layout struct {
	Table  string        // the table's name, for errors ("not a features table")
	Schema *arrow.Schema // the batches' schema (also when there are no files)
}

// Columns returns the layout's column names in order.
func (l Layout) Columns() []string {
	var c []string
	for _, f := range l.Schema.Fields() {
		c = append(c, f.Name)
	}
	return c
}

// Features is the features table (table.FeatureRow): image_id int64,
// n_regions int32, dim int32, boxes list<float32>, feats list<float32>.
var Features = Layout{Table: "features", Schema: arrow.NewSchema([]arrow.Field{
	{Name: "image_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "n_regions", Type: arrow.PrimitiveTypes.Int32},
	{Name: "dim", Type: arrow.PrimitiveTypes.Int32},
	{Name: "boxes", Type: arrow.ListOfNonNullable(arrow.PrimitiveTypes.Float32)},
	{Name: "feats", Type: arrow.ListOfNonNullable(arrow.PrimitiveTypes.Float32)},
}, nil)}

// Tokens is the tokens table (table.TokenRow): caption_id int64, image_id
// int64, split string, ids list<int32>, length int32.
var Tokens = Layout{Table: "tokens", Schema: arrow.NewSchema([]arrow.Field{
	{Name: "caption_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "image_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "split", Type: arrow.BinaryTypes.String},
	{Name: "ids", Type: arrow.ListOfNonNullable(arrow.PrimitiveTypes.Int32)},
	{Name: "length", Type: arrow.PrimitiveTypes.Int32},
}, nil)}

// Defaults of [Options].
const (
	DefaultBatchRows    = 256
	DefaultMemoryBudget = 256 << 20
)

// inFlight is the number of decoded batches that can be alive at once with
// workers decoders: per decoder one being decoded and one waiting in its
// row group's slot, plus one in the hand-off slot and one held by the caller.
func inFlight(workers int) int64 { return int64(2*workers + 2) }

// Options configure a [Reader].
type Options struct {
	// BatchRows is the maximum number of rows per batch (default 256).
	BatchRows int
	// MemoryBudget bounds the bytes of decoded batches in flight (default
	// 256 MiB); the batch size shrinks so that the batches that can be
	// alive at once (see inFlight) fit.
	MemoryBudget int64
	// Workers is the number of row groups decoded at once (default
	// GOMAXPROCS); batches still come out in file and row order.
	Workers int
}

// Reader streams the shards of one table (a [Layout]) as Arrow record
// batches. It is not safe for concurrent use by several goroutines.
type Reader struct {
	mem    memory.Allocator
	layout Layout
	schema *arrow.Schema
	ch     chan result
	cancel context.CancelFunc
	wg     sync.WaitGroup
	err    error // sticky terminal error (io.EOF at the end)
	closed bool
}

type result struct {
	rec arrow.Record
	err error
}

// NewReader streams the feature shards (table.FeatureRow schema) in file
// order as Arrow record batches with columns image_id int64, n_regions
// int32, dim int32, boxes list<float32>, feats list<float32>. The first file
// is opened here, so a missing or malformed first shard is reported at once;
// later files are checked as they are reached and must have the same schema.
func NewReader(mem memory.Allocator, files []string, opt Options) (*Reader, error) {
	return NewTableReader(mem, Features, files, opt)
}

// NewTableReader streams the shards of the table layout describes in file
// order as Arrow record batches with the layout's columns, as [NewReader]
// does for the features table (NewReader is NewTableReader with
// [Features]). [NewView] is for features batches only.
func NewTableReader(mem memory.Allocator, layout Layout, files []string, opt Options) (*Reader, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	if opt.BatchRows <= 0 {
		opt.BatchRows = DefaultBatchRows
	}
	if opt.MemoryBudget <= 0 {
		opt.MemoryBudget = DefaultMemoryBudget
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	r := &Reader{mem: mem, layout: layout, ch: make(chan result, 1)}
	if len(files) == 0 {
		r.schema = layout.Schema
	} else {
		s, _, err := r.probe(files[0])
		if err != nil {
			return nil, err
		}
		r.schema = s
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go r.produce(ctx, files, opt)
	return r, nil
}

// Schema returns the schema of the batches.
func (r *Reader) Schema() *arrow.Schema { return r.schema }

// Next returns the next batch (the caller must Release it) or io.EOF after
// the last one. Errors are sticky: after one, Next keeps returning it. A
// done ctx is the exception: Next returns ctx.Err() (even when a batch is
// ready) and the reader can go on with another context.
func (r *Reader) Next(ctx context.Context) (arrow.Record, error) {
	if r.closed {
		return nil, errors.New("arrowfeat: Next on a closed reader")
	}
	if r.err != nil {
		return nil, r.err
	}
	// A cancelled context wins over a ready batch (select would pick
	// either at random).
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case res, ok := <-r.ch:
		if !ok {
			r.err = io.EOF
			return nil, io.EOF
		}
		if res.err != nil {
			r.err = res.err
			return nil, res.err
		}
		return res.rec, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops the prefetcher and releases every batch not yet handed out.
// It is safe to call more than once.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.cancel()
	for res := range r.ch { // produce closes ch when it returns
		if res.rec != nil {
			res.rec.Release()
		}
	}
	r.wg.Wait()
	return nil
}

// checkFile checks the structure of the file at path that arrow-go trusts
// before it decodes: the footer, and every page header against its column
// chunk and the footer's counts (internal/pqcheck, which the table readers
// use for parquet-go). arrow-go's page reader allocated gigabytes without
// end on a damaged page header of a tokens shard (FuzzTokensReader), where
// no recover helps.
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("arrowfeat: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("arrowfeat: %w", err)
	}
	if err := pqcheck.File(f, st.Size()); err != nil {
		return fmt.Errorf("arrowfeat: %s: %w", path, err)
	}
	return nil
}

// openShard opens one shard for reading with buffered column streams.
func openShard(path string) (*file.Reader, error) {
	// Page buffers come from Go's garbage-collected allocator, not r.mem:
	// arrow-go v15's page reader keeps its current page when a column chunk
	// is abandoned part-way (Close before the end, a cancelled context),
	// and never releases it (fixed upstream in arrow-go by
	// apache/arrow-go#485, which v15 predates). Decoded batches, the memory
	// the caller holds, come from r.mem.
	props := parquet.NewReaderProperties(memory.NewGoAllocator())
	props.BufferedStreamEnabled = true
	props.BufferSize = 1 << 20
	// Not file.OpenParquetFile: it leaves the file open when the footer
	// does not parse (or makes it panic), until the garbage collector
	// gets to it; many damaged files ran out of file descriptors.
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("arrowfeat: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close() // on an error or a panic (recovered by the callers)
		}
	}()
	pr, err := file.NewParquetReader(f, file.WithReadProps(props))
	if err != nil {
		return nil, fmt.Errorf("arrowfeat: %s: %w", path, err)
	}
	ok = true
	return pr, nil
}

// leaves returns the leaf column indices of the layout's columns, in the
// layout's order whatever their order in the file (pqarrow makes the
// batch's fields in the order of the indices; a shard written with the
// columns in another order, or with extra columns, is that table all the
// same, as table.Scan reads it).
func leaves(pr *file.Reader, l Layout, path string) ([]int, error) {
	sc := pr.MetaData().Schema
	var idx []int
	for _, c := range l.Columns() {
		found := false
		for i := 0; i < sc.NumColumns(); i++ {
			if p := sc.Column(i).ColumnPath(); len(p) > 0 && p[0] == c {
				idx = append(idx, i)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("arrowfeat: %s: no column %q: not a %s table", path, c, l.Table)
		}
	}
	return idx, nil
}

// probe reads a file's checked schema and its number of row groups. A
// damaged footer that makes arrow-go panic is reported as an error naming
// the file.
func (r *Reader) probe(path string) (_ *arrow.Schema, _ int, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = corrupt(path, -1, p)
		}
	}()
	if err := checkFile(path); err != nil {
		return nil, 0, err
	}
	pr, err := openShard(path)
	if err != nil {
		return nil, 0, err
	}
	defer pr.Close()
	cols, err := leaves(pr, r.layout, path)
	if err != nil {
		return nil, 0, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("arrowfeat: %w", err)
	}
	if err := checkChunks(pr, cols, st.Size(), path); err != nil {
		return nil, 0, err
	}
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{BatchSize: 1}, r.mem)
	if err != nil {
		return nil, 0, fmt.Errorf("arrowfeat: %s: %w", path, err)
	}
	_, fs, err := fr.GetFieldReaders(context.Background(), cols, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("arrowfeat: %s: %w", path, err)
	}
	s, err := checkSchema(fs, r.layout, path)
	return s, pr.NumRowGroups(), err
}

// checkChunks parses the column-chunk metadata of cols in every row group
// and checks that each chunk lies within the file. pqarrow reads it on
// goroutines of its own (GetFieldReaders), where a panic on a damaged footer
// could not be recovered; here it happens in probe, which recovers.
func checkChunks(pr *file.Reader, cols []int, size int64, path string) error {
	md := pr.MetaData()
	for g := 0; g < pr.NumRowGroups(); g++ {
		rg := md.RowGroup(g)
		for _, c := range cols {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				return fmt.Errorf("arrowfeat: %s: row group %d: %w", path, g, err)
			}
			start, n := cc.DataPageOffset(), cc.TotalCompressedSize()
			if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 {
				start = min(start, cc.DictionaryPageOffset())
			}
			// Not start+n > size: that sum wraps around for a start
			// near the largest int64.
			if start < 0 || n < 0 || start > size || n > size-start {
				return fmt.Errorf("arrowfeat: %s: row group %d: column chunk %d at offset %d, %d bytes, outside the %d-byte file: corrupt Parquet file", path, g, c, start, n, size)
			}
		}
	}
	return nil
}

// corrupt is the error of a file (row group rg, or -1 for its footer)
// whose damaged bytes made arrow-go panic.
func corrupt(path string, rg int, p any) error {
	if rg < 0 {
		return fmt.Errorf("arrowfeat: %s: corrupt Parquet file: %v", path, p)
	}
	return fmt.Errorf("arrowfeat: %s: row group %d: corrupt Parquet data: %v", path, rg, p)
}

// checkSchema verifies column names and types and strips field metadata.
func checkSchema(s *arrow.Schema, l Layout, path string) (*arrow.Schema, error) {
	want := l.Schema
	if s.NumFields() != want.NumFields() {
		return nil, fmt.Errorf("arrowfeat: %s: %d columns selected, want %v", path, s.NumFields(), l.Columns())
	}
	fields := make([]arrow.Field, s.NumFields())
	for i, f := range s.Fields() {
		w := want.Field(i)
		if f.Name != w.Name {
			return nil, fmt.Errorf("arrowfeat: %s: column %d is %q, want %q", path, i, f.Name, w.Name)
		}
		if !sameType(f.Type, w.Type) {
			return nil, fmt.Errorf("arrowfeat: %s: column %q has type %s, want %s", path, f.Name, f.Type, w.Type)
		}
		fields[i] = arrow.Field{Name: f.Name, Type: f.Type, Nullable: f.Nullable}
	}
	return arrow.NewSchema(fields, nil), nil
}

// sameType compares types, ignoring list element names and nullability.
func sameType(a, b arrow.DataType) bool {
	la, aok := a.(*arrow.ListType)
	lb, bok := b.(*arrow.ListType)
	if aok || bok {
		return aok && bok && arrow.TypeEqual(la.Elem(), lb.Elem())
	}
	return arrow.TypeEqual(a, b)
}

// rowBytes estimates the decoded bytes of one row of the columns cols
// from the footer: per row group, each column chunk's number of values
// times the size of its type (8 for int64, 4 for int32 and float32), plus
// 4 bytes of list offsets per row of a list column, and the largest over
// the row groups. The encoded sizes (TotalByteSize) are no measure: a
// dictionary- or run-length-encoded chunk of feature values can be a
// hundredth of its decoded size.
func rowBytes(pr *file.Reader, cols []int) int64 {
	md := pr.MetaData()
	sc := md.Schema
	var best int64 = 64
	for g := 0; g < pr.NumRowGroups(); g++ {
		rg := md.RowGroup(g)
		rows := rg.NumRows()
		if rows <= 0 {
			continue
		}
		var total int64
		for _, c := range cols {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				continue
			}
			d := sc.Column(c)
			switch size := int64(d.PhysicalType().ByteSize()); {
			case size > 0:
				total += cc.NumValues() * size
			default: // byte arrays: their decoded bytes are unknown, take the raw pages'
				total += cc.TotalUncompressedSize()
			}
			if d.MaxRepetitionLevel() > 0 {
				total += 4 * rows
			}
		}
		if b := total/rows + 32; b > best { // + validity and slack
			best = b
		}
	}
	return best
}

// batchRows is the batch size for a file whose rows decode to rb bytes.
func batchRows(opt Options, rb int64) int64 {
	n := opt.MemoryBudget / (inFlight(opt.Workers) * rb)
	if n > int64(opt.BatchRows) {
		n = int64(opt.BatchRows)
	}
	if n < 1 {
		n = 1
	}
	return n
}

// job is one row group to decode; its batches go to out, which the worker
// closes when the row group is done (after an error, if any).
type job struct {
	path string
	rg   int
	out  chan result
}

// produce decodes the row groups of files on opt.Workers goroutines and
// forwards their batches to r.ch in file and row-group order. A dispatcher
// checks each file's schema and queues its row groups; order holds the
// queued jobs in sequence (at most Workers ahead of the one being
// forwarded), so decoding runs ahead by a bounded number of row groups.
func (r *Reader) produce(ctx context.Context, files []string, opt Options) {
	defer r.wg.Done()
	defer close(r.ch)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan job)
	order := make(chan job, opt.Workers)
	var workers sync.WaitGroup
	for range opt.Workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			r.work(ctx, jobs, opt)
		}()
	}
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		defer close(order)
		defer close(jobs)
		r.dispatch(ctx, files, jobs, order)
	}()
	cur := r.forward(ctx, order)
	// Stop and wait for everyone, then release what was decoded but not
	// forwarded (nobody sends any more, so a non-blocking drain is
	// complete): in the row group forward stopped in (its decoder may
	// have sent another batch after forward drained it) and in those
	// still queued.
	cancel()
	workers.Wait()
	<-dispatched
	if cur != nil {
		drain(cur)
	}
	for j := range order {
		drain(j.out)
	}
}

// forward hands the batches of the jobs in order to r.ch until the last
// job, an error or cancellation. It returns the batches of the job it
// stopped in, or nil after the last job.
func (r *Reader) forward(ctx context.Context, order <-chan job) chan result {
	for j := range order {
		for {
			var res result
			var ok bool
			select {
			case res, ok = <-j.out:
			case <-ctx.Done():
				drain(j.out)
				return j.out
			}
			if !ok {
				break
			}
			if !r.send(ctx, res) || res.err != nil {
				drain(j.out)
				return j.out
			}
		}
	}
	return nil
}

// drain releases the batches waiting in out without blocking.
func drain(out chan result) {
	for {
		select {
		case res, ok := <-out:
			if !ok {
				return
			}
			if res.rec != nil {
				res.rec.Release()
			}
		default:
			return
		}
	}
}

// dispatch checks each file and queues its row groups, in order. A file
// that cannot be read becomes a job carrying only its error.
func (r *Reader) dispatch(ctx context.Context, files []string, jobs chan<- job, order chan<- job) {
	for _, path := range files {
		n, err := r.check(path)
		if err != nil {
			j := job{path: path, out: make(chan result, 1)}
			j.out <- result{err: err}
			close(j.out)
			select {
			case order <- j:
			case <-ctx.Done():
			}
			return
		}
		for g := range n {
			j := job{path: path, rg: g, out: make(chan result, 1)}
			select {
			case order <- j:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	}
}

// check opens path, verifies that its schema matches the first file's and
// returns its number of row groups.
func (r *Reader) check(path string) (int, error) {
	s, n, err := r.probe(path)
	if err != nil {
		return 0, err
	}
	for i, f := range s.Fields() {
		if !arrow.TypeEqual(f.Type, r.schema.Field(i).Type) {
			return 0, fmt.Errorf("arrowfeat: %s: column %q has type %s, but the first shard has %s", path, f.Name, f.Type, r.schema.Field(i).Type)
		}
	}
	return n, nil
}

// work decodes the row groups of the jobs it takes, keeping the last file
// open for the next row group of the same file.
func (r *Reader) work(ctx context.Context, jobs <-chan job, opt Options) {
	var cur string
	var pr *file.Reader
	var fr *pqarrow.FileReader
	var cols []int
	defer func() {
		if pr != nil {
			pr.Close()
		}
	}()
	for j := range jobs {
		err := func() (err error) {
			// Damaged pages can make arrow-go panic: that is this file's
			// error, not the process's end. The file reader's state is
			// unknown afterwards, so the next job reopens the file.
			defer func() {
				if p := recover(); p != nil {
					err = corrupt(j.path, j.rg, p)
					if pr != nil {
						pr.Close()
						pr = nil
					}
				}
			}()
			if j.path != cur || pr == nil {
				if pr != nil {
					pr.Close()
					pr = nil
				}
				var err error
				if pr, err = openShard(j.path); err != nil {
					return err
				}
				cur = j.path
				if cols, err = leaves(pr, r.layout, j.path); err != nil {
					return err
				}
				// Row groups are the unit of parallelism. Not Parallel:
				// pqarrow would decode the columns on goroutines of its
				// own, where a panic on damaged pages cannot be recovered
				// and ends the process.
				props := pqarrow.ArrowReadProperties{BatchSize: batchRows(opt, rowBytes(pr, cols))}
				if fr, err = pqarrow.NewFileReader(pr, props, r.mem); err != nil {
					return fmt.Errorf("arrowfeat: %s: %w", j.path, err)
				}
			}
			return r.decode(ctx, fr, cols, j)
		}()
		if err != nil && ctx.Err() == nil {
			select {
			case j.out <- result{err: err}:
			case <-ctx.Done():
			}
		}
		close(j.out)
	}
}

// decode sends the batches of row group j.rg to j.out.
func (r *Reader) decode(ctx context.Context, fr *pqarrow.FileReader, cols []int, j job) error {
	// Not ctx: arrow-go v15 leaks the record reader's buffers when a batch
	// is interrupted half-way; cancellation is honoured between batches.
	rr, err := fr.GetRecordReader(context.Background(), cols, []int{j.rg})
	if err != nil {
		return fmt.Errorf("arrowfeat: %s: row group %d: %w", j.path, j.rg, err)
	}
	defer rr.Release()
	md := fr.ParquetReader().MetaData()
	var row int64 // the file's row of the batch's first
	for g := 0; g < j.rg; g++ {
		row += md.RowGroup(g).NumRows()
	}
	first := row
	want := md.RowGroup(j.rg).NumRows()
	var nullErr error
	for rr.Next() {
		if ctx.Err() != nil || nullErr != nil {
			// Read the row group to its end: arrow-go v15 leaks the
			// column readers' buffers of an abandoned row group.
			continue
		}
		rec := rr.Record()
		if nullErr = checkNulls(rec, row); nullErr != nil {
			nullErr = fmt.Errorf("arrowfeat: %s: row group %d: %w", j.path, j.rg, nullErr)
			continue
		}
		row += rec.NumRows()
		out := array.NewRecord(r.schema, rec.Columns(), rec.NumRows())
		select {
		case j.out <- result{rec: out}:
		case <-ctx.Done():
			out.Release()
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("arrowfeat: %s: row group %d: %w", j.path, j.rg, err)
	}
	if nullErr != nil {
		return nullErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// arrow-go ends a row group quietly (io.EOF) when a column chunk's
	// bytes run out early: the rows the footer promises must all be there,
	// or rows would go missing without a word.
	if got := row - first; got != want {
		return fmt.Errorf("arrowfeat: %s: row group %d: %d rows decoded, the footer says %d: corrupt Parquet data", j.path, j.rg, got, want)
	}
	return nil
}

// checkNulls returns an error naming the column and row of the first NULL
// in rec, whose first row is the file's row first: a column, list or list
// element of a nullable column (as Arrow and DuckDB write every column)
// that is NULL. The View's slices would show the bytes under a NULL as a
// value (a NULL image_id read as another row's id).
func checkNulls(rec arrow.Record, first int64) error {
	for i, col := range rec.Columns() {
		name := rec.ColumnName(i)
		if col.NullN() > 0 {
			for k := range col.Len() {
				if col.IsNull(k) {
					return fmt.Errorf("column %q is NULL at row %d", name, first+int64(k))
				}
			}
		}
		l, ok := col.(*array.List)
		if !ok || l.ListValues().NullN() == 0 {
			continue
		}
		vals := l.ListValues()
		for k := range l.Len() {
			s, e := l.ValueOffsets(k)
			for v := s; v < e; v++ {
				if vals.IsNull(int(v)) {
					return fmt.Errorf("column %q has a NULL at row %d (value %d of the row)", name, first+int64(k), v-s)
				}
			}
		}
	}
	return nil
}

// send hands res to Next, or releases it when the reader is stopping.
func (r *Reader) send(ctx context.Context, res result) bool {
	select {
	case r.ch <- res:
		return true
	case <-ctx.Done():
		if res.rec != nil {
			res.rec.Release()
		}
		return false
	}
}
