// Package kg reads commonsense knowledge into ConceptNet-form edges, stores
// them in a persistent Cayley graph (bolt), and links caption words to the
// concepts of that graph.
//
// # Edges
//
// Every source is turned into [Edge] values in ConceptNet form: a relation
// ("/r/IsA"), two normalised English concepts ("hot_dog", from
// "/c/en/hot_dog/n/wn/food"), a weight and a dataset ("/d/wordnet/3.0").
// [ReadConceptNet] reads ConceptNet 5 assertion files (CSV or CSV.gz, detected
// by content), keeps English-to-English edges only and counts malformed lines
// with their line numbers; [ReadWordNet] turns a WordNet 3.0 dictionary
// directory into the same edges (synonyms, hypernyms, meronyms/holonyms,
// antonyms, similar-to), the way ConceptNet imports WordNet.
//
// # Store
//
// A store is a standard Cayley KV quad store in bbolt (dir/indexes.bolt).
// An edge start -rel-> end with weight w from dataset d is the quad
//
//	</c/en/start> </r/Rel> </c/en/end> <d#w=W>
//
// (the label carries the dataset and the weight; see [EncodeLabel]). [OpenStore]
// opens it read-only (bolt's shared lock: many readers at once), and
// [Store.QuadStore] runs Cayley queries on it. Cayley's own opener
// (cayley.NewGraph("bbolt", dir, nil), and the cayley CLI) has no read-only
// mode: it locks the file exclusively, without a timeout, so it and
// coderflow's readers wait for each other; see docs/kg.md. [NewBuilder]
// loads edges either through Cayley's bulk QuadWriter in large batches
// ([LoaderQuadWriter]; memory: one batch, Cayley's buffers and a 16-byte
// hash per distinct edge) or by building the store's key-value layout in
// memory and writing every bucket once in key order ([LoaderBulk]; about 40
// bytes per edge plus the node names in memory, several times faster; its
// file is byte-reproducible). Both produce the same graph, storing and
// counting an edge that is asserted more than once once (same quads, node
// reference counts and [Builder.Concepts] degrees), which tests check
// through Cayley's API.
//
// # Linking
//
// [Lemmatizer] implements WordNet's morphy (exception lists, then detachment
// rules, without the rule outputs that are lemmas of another part of speech
// only: [Crossings]) against the set of concepts present in a graph, and
// [Linker] links
// token sequences to concepts, longest n-gram first (up to 3 words), never
// linking a stop word alone or at either end of an n-gram ("cup_of_tea"
// links).
package kg
