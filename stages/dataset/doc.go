// Package dataset holds coderflow's data set stage kinds: download (fetch
// and extract files into an artifact) and the readers that turn a data set
// into the images and captions tables of DESIGN.md (dataset.synth,
// dataset.flickr8k, dataset.coco, dataset.f30k, dataset.precomp).
//
// Every reader writes images.parquet and captions.parquet at the top of its
// artifact and declares them as the images and captions tables. Image and
// caption ids count up from 0 in the order the rows are written (image ids
// are not Flickr/COCO ids, and caption ids equal image_id*5+ordinal only
// while every image kept has five captions: a training image may keep fewer
// or more); the data set's own image name is the images table's key.
// Counts of skipped or suspicious input (missing images, duplicate ids,
// images with other than five captions) go to the manifest's info, and the
// listed images left out of the tables are counted per split
// (images_skipped_per_split: the evaluate stage reads it to tell whether a
// test split is complete). The
// readers of image files (flickr8k, coco, f30k) fail instead when more than
// max_missing_fraction of the listed images are missing or unreadable (a
// wrong image directory, a missing archive), naming the directory and the
// first such files, and fail rather than write empty tables.
//
// The images table's width and height are the image as displayed: the
// size in the file's header, swapped for a JPEG whose EXIF orientation (5 to
// 8) turns it by 90 or 270 degrees, which is the image features.regions and
// the evaluate report decode (imaging.AutoOrientation). Only the orientation
// tag is read, within the first 64 KiB, with the rule imaging applies
// (jpegOrientation); a missing or malformed EXIF block means the size as
// stored, never a skipped image. dataset.precomp records the BUTD TSV's
// image_w and image_h as they are; dataset.synth writes PNGs without EXIF.
package dataset
