// Package pqcheck checks the parts of a Parquet file whose sizes and counts
// parquet-go (github.com/parquet-go/parquet-go) trusts, before it reads
// them: it allocates the lists, maps and binary values of the footer and of
// page headers at the sizes they claim, and pages at the sizes and value
// counts their headers claim, before reading a byte of them. On a damaged
// file (a crash, a full disk, bit rot) that is gigabytes from a file of a
// few hundred bytes, or "fatal error: runtime: out of memory", which no
// recover catches.
//
// [Footer] checks the magic, the footer's length and its thrift (every
// length and count fits in the bytes that follow, bounded nesting, a
// schema parquet-go can represent) and is called before parquet.OpenFile;
// [Pages] checks the page headers of one row group (sizes within the
// column chunk, believable uncompressed sizes and value counts) and is
// called before its pages are read. Both read only the footer or the page
// headers, and return an error that says what is wrong and at which offset
// (callers add the file's name). What they accept, parquet-go decodes with
// memory bounded by a small multiple of the bytes it reads.
//
// The page index and bloom filters are not checked: readers that use these
// checks open files with parquet.SkipPageIndex and parquet.SkipBloomFilters.
//
// Used by internal/pqinspect (`coderflow inspect`) and datasets/table (the
// readers of every stage).
package pqcheck
