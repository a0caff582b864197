// Package workflows holds the shipped workflow files (demo.yaml,
// flickr8k.yaml, coco.yaml, f30k.yaml) and the tests that validate them and
// run them end to end on miniatures: coco.yaml and f30k.yaml on generated
// data in SCAN's exact precomputed format, flickr8k.yaml on the real
// Flickr8k-1k photos when ../shared/data exists. TestPaperSettings checks
// that coco.yaml and f30k.yaml pin every hyper-parameter of
// shared/CODER-METHOD.md at the method's value and evaluate with the
// protocol of shared/EVAL-PROTOCOL.md (COCO 1K and 5K, Flickr30K 1K).
package workflows
