// Package dataset holds coderflow's data set stage kinds: download (fetch
// and extract files into an artifact) and the readers that turn a data set
// into the images and captions tables of DESIGN.md (dataset.synth,
// dataset.flickr8k, dataset.coco, dataset.f30k, dataset.precomp).
//
// Every reader writes images.parquet and captions.parquet at the top of its
// artifact and declares them as the images and captions tables; caption ids
// are image_id*5+ordinal where the data set has five captions per image.
// Counts of skipped or suspicious input (missing images, duplicate ids,
// images with other than five captions) go to the manifest's info.
package dataset
