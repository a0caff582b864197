// Package features implements the features.regions stage kind: it turns the
// images of the nearest upstream images table into the sharded features
// table (table.FeatureRow) that training reads, 36 region descriptors per
// image.
//
// Per image (one image per worker, a bounded pool of `workers`, no
// parallelism inside an image but imaging's orientation transforms, which
// spread the rows of an EXIF-rotated JPEG over GOMAXPROCS goroutines):
//
//  1. image.DecodeConfig reads the header; images whose width*height
//     exceeds max_pixels are refused before any pixel is decoded, and so
//     are PNG, JPEG and BMP files too short to hold the image their header
//     declares (see minFileSize), which the decoders would allocate first.
//     The worker then takes the decode's estimated bytes (decodeBytes, from
//     the header) from the decode_memory budget, a weighted semaphore shared
//     by the workers, waiting while other decodes hold it (an image above
//     the whole budget decodes alone), and gives them back once the image
//     is resized: the decodes in flight never hold more than decode_memory
//     together, whatever the number of workers.
//  2. image.Decode decodes JPEG, PNG, GIF, WebP, BMP or TIFF (by content,
//     whatever the extension; a mismatching extension is counted), and the
//     EXIF orientation, read by imaging's rule in a pass of its own, is
//     applied with imaging's transforms (decodeOriented: the image
//     imaging.Decode with AutoOrientation gives, without its pipe-fed
//     goroutine, which a panicking decoder left blocked for good); a GIF's
//     first frame is placed on its logical screen (transparent where the
//     frame does not reach); a sequential JPEG whose data is complete but
//     whose end-of-image marker is missing is decoded as libjpeg would (a
//     file cut inside its data, a progressive one cut between scans, or
//     one cut before the scan of one of its components, stays corrupt).
//  3. The image is resized so its short side is short_side (long side
//     capped at 4x) into a per-worker buffer: JPEG's YCbCr is resized by a
//     bilinear fast path that converts each output pixel to RGB once;
//     other sources go through x/image/draw (single-threaded; imaging.Resize
//     is avoided because it parallelises internally).
//  4. package descriptor computes the 36 x 104 descriptors (see its doc).
//
// Shards: the images table is streamed with table.Scan and cut into shards
// of shard_rows images; shard i is written to features/part-%05d.parquet
// (parquet-go via table.Create: atomic rename, zstd at zstd_level,
// row_group_rows rows per row group, key-value metadata coderflow.stage,
// .kind, .key, .version, .table plus [MetaDim], [MetaRegions], [MetaParts],
// [MetaShortSide]). Images are computed in chunks of 64 (or workers, when
// there are more workers, so that none idles), written, and the buffers
// reused, so memory depends on row_group_rows and workers, not on the
// number of images. After a shard's file is in place, a sidecar
// features/part-%05d.json records its row count and failures, and the shard
// is committed with Env.CommitShard; a rerun of the same key skips committed
// shards and re-declares them from their sidecars.
//
// Bad inputs never panic and never stop the other images: a missing,
// unreadable, empty, unsupported, oversized or corrupt (truncated, damaged)
// file is skipped, logged, counted by reason in the manifest
// (failed_by_reason) and listed with its error (failures, up to 1,000). The
// stage fails only when more than max_fail_fraction of the images were
// skipped (checked as soon as it cannot be met any more, and at the end).
package features
