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
// complete. Readers stream in batches: memory depends on the batch size, not
// on the file size.
//
// Paths in the images table are either absolute or relative to the directory
// of the artifact that holds the table (see [ResolvePath]).
package table
