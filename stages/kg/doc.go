// Package kg holds the knowledge-graph stage kinds.
//
// # kg.conceptnet
//
// Reads the param source: "embedded" (the WordNet-derived ConceptNet-form
// edges compiled into coderflow, see kg/embedded), a ConceptNet 5 assertions
// file (CSV or CSV.gz, detected by content), or a WordNet 3.0 dictionary
// directory; optionally adds a WordNet directory (param wordnet). Only
// English-to-English edges are kept; concept URIs are normalised
// ("/c/en/hot_dog/n" -> "hot_dog"); relation, weight and dataset are kept.
// Malformed lines are skipped, counted and reported (info.read, log lines
// with file:line); the stage fails if their share exceeds max_bad_fraction,
// if a source is empty, or if no English edge remains.
//
// Output: graph/indexes.bolt, a Cayley KV quad store in bbolt (see package
// coderflow/kg for the quad layout; open it read-only with [kg.OpenStore],
// whose QuadStore takes Cayley queries; cayley.NewGraph("bbolt",
// dir+"/graph", nil) opens it read-write with an exclusive lock, which
// blocks coderflow's readers), and the kg_nodes table
// (nodes.parquet: concept, degree).
//
// # kg.link
//
// Inputs: the tokens and vocab tables (tokenize) and kg_nodes (a
// kg.conceptnet stage, whose graph is read through Cayley). Every vocabulary
// token is lemmatised (WordNet morphy with the exception lists and
// part-of-speech crossings, against the graph's concepts); each caption is linked left to right, longest n-gram
// first (3, 2, 1 words), stop words never becoming concepts (see
// [kg.Linker]). The concept vocabulary is the `concepts` most frequent
// linked concepts on the train split (frequency = number of train captions
// linking the concept; ties by name).
//
// Output tables:
//   - concepts: concept_id 0..M-1, uri /c/en/..., label, freq.
//   - concept_edges: src, dst (concept ids), rel, weight: every graph edge
//     between two selected concepts (relation and ConceptNet weight; an edge
//     asserted by several datasets keeps its largest weight), plus, when
//     cooccur is true, rel "/r/CoOccurs" for concept pairs that appear in at
//     least cooccur_min train captions together, weight
//     n_ij / sqrt(n_i * n_j) (caption counts; 1 when two concepts always
//     appear together), stored once per pair with src < dst.
//   - caption_concepts: caption_id, concept_ids (selected concepts of the
//     caption, in first-occurrence order, no repeats), every caption of
//     every split.
//   - image_concepts: image_id, concept_ids (union over the image's
//     captions, ascending).
//
// And adjacency.f32: the M x M normalised adjacency
// A_hat = D^-1/2 (A + I) D^-1/2, row-major little-endian float32, with M in
// info.concepts. A is symmetric: A_ij = max over the graph edges between i
// and j (either direction) of weight / max graph weight, plus the
// co-occurrence weight; D is the row sum of A + I.
package kg
