// Package table defines the Parquet tables that coderflow stages exchange
// (the schemas of DESIGN.md "Tables") and small typed helpers to write and
// read them with parquet-go.
//
// Every file carries key-value metadata naming the stage kind, cache key and
// stage version that wrote it ([MetaKind], [MetaKey], [MetaVersion], [MetaStage]),
// so a Parquet file found on disk can be traced back to its artifact.
//
// Writers are atomic: rows go to a temporary file that is renamed over the
// target by [Writer.Close], so a crash never leaves a file that looks
// complete; after a failed Write, Close discards the file (it may lack rows)
// and returns the error. Text (string fields) must be UTF-8, as the Parquet
// format requires and DuckDB enforces: a Write with other bytes fails,
// naming the row and column. Readers stream in batches: memory depends on the batch size, not
// on the file size.
//
// Readers check each file's schema against the row type before the first
// row: every column of the row type must be in the file with the same
// physical type and repetition, and with a logical type whose values read
// correctly into the field (integers that fit, text into strings; not a
// DECIMAL, TIMESTAMP, DATE or TIME into an integer field). Writers such as
// DuckDB and Arrow mark every column nullable: their files read as long as
// they hold no NULL where a field cannot hold one (a field that is not a
// pointer, a list or its elements); a NULL there is an error naming the
// file, column and row, never a zero value. Column chunks whose statistics
// count no NULL are not read for that check; the others (NULLs, empty lists,
// which the count includes, no statistics, or statistics without a
// null_count, which parquet-go reads as a count of 0) have their definition
// levels read first.
//
// A damaged file (a crash, a full disk, bit rot, an edited cache) is an
// error naming the file and what is wrong where, never a panic, a fatal
// out-of-memory crash or rows other than the file's: parquet-go allocates
// the lengths and counts of the footer and of page headers before it reads
// them, and reads the values and rows page headers count, so readers check
// the footer when they open a file and the page headers of every row group
// (sizes, and counts against the footer's) before reading rows (see
// coderflow/internal/pqcheck). They read neither the page index nor bloom
// filters, which they do not need. The checks read the footer and page
// headers only.
//
// Paths in the images table are either absolute or relative to the directory
// of the artifact that holds the table (see [ResolvePath]).
package table
