package dataset

import (
	"coderflow/datasets/table"
	"coderflow/pipeline"
)

// File names of the tables every reader writes, relative to the artifact.
const (
	imagesFile   = "images.parquet"
	captionsFile = "captions.parquet"
)

// batchRows is how many rows are buffered before a Parquet write.
const batchRows = 2048

// output streams the images and captions tables of a reader stage.
type output struct {
	env  *pipeline.Env
	imgs *table.Writer[table.ImageRow]
	caps *table.Writer[table.CaptionRow]
	bi   []table.ImageRow
	bc   []table.CaptionRow
	// per-split counts, for the manifest
	splitImages   map[string]int64
	splitCaptions map[string]int64
}

func newOutput(env *pipeline.Env) (*output, error) {
	imgs, err := table.Create[table.ImageRow](env.Path(imagesFile), env, table.Images, table.Options{})
	if err != nil {
		return nil, err
	}
	caps, err := table.Create[table.CaptionRow](env.Path(captionsFile), env, table.Captions, table.Options{})
	if err != nil {
		imgs.Abort()
		return nil, err
	}
	return &output{env: env, imgs: imgs, caps: caps,
		splitImages: map[string]int64{}, splitCaptions: map[string]int64{}}, nil
}

func (o *output) image(r table.ImageRow) error {
	o.bi = append(o.bi, r)
	o.splitImages[r.Split]++
	if len(o.bi) >= batchRows {
		return o.flushImages()
	}
	return nil
}

func (o *output) caption(r table.CaptionRow) error {
	o.bc = append(o.bc, r)
	o.splitCaptions[r.Split]++
	if len(o.bc) >= batchRows {
		return o.flushCaptions()
	}
	return nil
}

func (o *output) flushImages() error {
	err := o.imgs.Write(o.bi)
	o.bi = o.bi[:0]
	return err
}

func (o *output) flushCaptions() error {
	err := o.caps.Write(o.bc)
	o.bc = o.bc[:0]
	return err
}

// abort discards both files (no-op after close).
func (o *output) abort() {
	o.imgs.Abort()
	o.caps.Abort()
}

// close flushes, renames both files into place, declares the tables and
// records per-split counts in the manifest.
func (o *output) close() error {
	if err := o.flushImages(); err != nil {
		return err
	}
	if err := o.flushCaptions(); err != nil {
		return err
	}
	if err := o.imgs.Close(); err != nil {
		return err
	}
	if err := o.caps.Close(); err != nil {
		return err
	}
	o.env.AddTable(table.Images, o.imgs.Rows(), imagesFile)
	o.env.AddTable(table.Captions, o.caps.Rows(), captionsFile)
	o.env.SetInfo("images_per_split", o.splitImages)
	o.env.SetInfo("captions_per_split", o.splitCaptions)
	return nil
}
