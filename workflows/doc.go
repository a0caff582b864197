// Package workflows holds the shipped workflow files (demo.yaml,
// flickr8k.yaml, coco.yaml, f30k.yaml) and the tests that validate them and
// run them end to end on miniatures: coco.yaml and f30k.yaml on generated
// data in SCAN's exact precomputed format, flickr8k.yaml on the real
// Flickr8k-1k photos when ../shared/data exists.
package workflows
