// Package arrowfeat streams region-feature shards (the features table of
// coderflow, written by the features.regions stage or imported by
// dataset.precomp; schema table.FeatureRow) as Apache Arrow record batches,
// for the training data loader; [NewTableReader] with the [Tokens] layout
// streams the token shards (table.TokenRow) the same way, read through
// [NewTokensView].
//
// Before arrow-go decodes a file, its footer and every page header are
// checked against the file, the column chunks and the footer's counts
// (internal/pqcheck, as the table readers do for parquet-go): arrow-go
// trusts them, and a damaged page header of a tokens shard made its page
// reader allocate without end (FuzzTokensReader).
//
// A [Reader] decodes the shards with arrow-go's pqarrow record reader
// (github.com/apache/arrow/go/v15 parquet/pqarrow), one row group per
// decoder goroutine, [Options.Workers] row groups at once (default
// GOMAXPROCS), and hands out the batches in file and row order, with a
// batch size in rows. Each batch has the columns
//
//	image_id  int64
//	n_regions int32
//	dim       int32
//	boxes     list<float32>   n_regions*4 values: normalised x0,y0,x1,y1
//	feats     list<float32>   n_regions*dim values, row-major
//
// Memory. The decoded size of a row is estimated from each file's footer:
// the number of values of each column chunk times the size of its type,
// plus list offsets, per row (not the chunks' encoded sizes, which for
// dictionary- or run-length-encoded feature values are a small fraction of
// the decoded ones). The batch size is the smaller of [Options.BatchRows]
// and what fits [Options.MemoryBudget] divided by the number of batches that
// can be alive at once: per decoder one being decoded and one waiting, one
// in the hand-off slot, and one held by the caller.
// Column chunks are read through a buffered stream, never loaded whole, so
// memory is bounded by the budget plus page buffers, independent of the
// number and size of the shards — provided the caller releases each batch
// before it asks for the one after next.
//
// Stopping early (Close, a cancelled context) lets each decoder finish the
// row group it is in, releasing its batches: arrow-go v15 leaks the column
// readers' buffers of a row group abandoned half-way.
//
// NULLs. Shards written by Arrow or DuckDB mark every column nullable; they
// read like parquet-go's as long as they hold no NULL. A NULL image_id,
// n_regions, dim, box or feature list, or a NULL box or feature value is an
// error naming the file, row group, column and row (the values under a NULL
// are whatever the buffer holds), checked per batch with the arrays' null
// counts.
//
// Damage. A column chunk the footer places outside the file, or a row
// group that decodes to fewer rows than the footer gives it (arrow-go ends
// a row group quietly when a chunk's bytes run out), is an error naming
// the file and row group, never a silently shorter read.
//
// [NewView] wraps a batch for zero-copy typed access: IDs, NRegions, Dim
// as slices and Boxes(i), Feats(i) as float32 slices aliasing the batch. It
// first checks that every row has n_regions*4 box and n_regions*dim feature
// values, and names the image of a row that does not.
//
// Every batch returned by [Reader.Next] is owned by the caller, who must call
// Release on it. Close stops the prefetcher and releases everything the
// reader holds; tests check this with memory.NewCheckedAllocator.
//
// Why pqarrow and not parquet-go rows into an arrow RecordBuilder: pqarrow
// decodes column-wise straight into Arrow buffers from the allocator we are
// given, with no per-row Go values, and the performance notes measured it
// reading these wide float lists faster than parquet-go. The files are
// written by parquet-go; both libraries agree on the standard three-level
// LIST encoding.
package arrowfeat
