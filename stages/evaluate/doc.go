// Package evaluate registers the `evaluate` and `report` stage kinds.
//
// `evaluate` reads the image_embeddings and caption_embeddings tables of one
// split from upstream (exactly 5 captions per image, rows ordered by
// (image_id, ordinal)), runs the Recall@K protocol of [eval.Evaluate] and
// writes metrics.json ([eval.MetricsFile]), the metrics table
// ([eval.MetricsRow]) and one manifest metric per mean value (i2t_r1 ...
// rsum).
//
// `report` writes report.html, a self-contained page (inline CSS, SVG charts,
// data-URI thumbnails, no scripts or network) with the R@K table, a
// comparison with other runs' metrics.json files, training curves, data set
// and concept graph statistics and retrieval examples; each section appears
// when its upstream table is found.
//
// See docs/evaluate.md for params and file formats.
package evaluate
