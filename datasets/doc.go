// Package datasets reads the public image–caption data sets coderflow
// trains on and knows where to get them.
//
//   - Catalog: the real public sources (COCO 2014, Karpathy splits, the
//     Flickr8k archives, SCAN's precomputed features, ConceptNet 5.7) with
//     URLs, sizes and checksums where known ([Catalog], [Lookup]).
//   - Text readers that stream and report malformed input by file and line:
//     Flickr8k token and split lists ([ReadFlickr8kTokens], [ReadImageList]),
//     Karpathy split JSON ([ReadKarpathy]), COCO captions JSON
//     ([ReadCOCOCaptions]), SCAN caption and id lists ([ReadLines]) and
//     bottom-up-attention TSV features ([TSVReader]).
//   - [FindFile] and [FindDir] locate files in an unpacked copy whatever the
//     archive's top directory is called; [FindAll] lists every file of a
//     kind (BUTD's *.tsv) by the same rules.
//
// Downloads live in [coderflow/datasets/download], archive extraction in
// [coderflow/datasets/extract], the .npy reader in [coderflow/datasets/npy]
// and the synthetic data set in [coderflow/datasets/synth]. The stage kinds
// that use all of these are in coderflow/stages/dataset.
//
// # Errors
//
// A malformed line or record is an error of type [*FormatError] naming the
// file and the 1-based line (or the byte offset for binary records). Readers
// never skip malformed input silently; deciding to skip an image (missing
// file, wrong caption count) is the stage's documented rule.
package datasets
