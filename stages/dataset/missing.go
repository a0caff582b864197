package dataset

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"coderflow/pipeline"
)

// defaultMaxMissing is the default max_missing_fraction. The public
// downloads are complete (Flickr8k, COCO, Flickr30K: no listed image is
// absent), so the bound only has to tell a few lost files apart from a
// wrong or incomplete image directory: a wrong directory leaves every image
// missing, a COCO copy without val2014 a third of the Karpathy images, one
// without train2014 two thirds. A quarter catches those and still lets a
// hand-made copy with a few gaps through (skipped and counted); strict: true
// refuses any gap.
const defaultMaxMissing = 0.25

// maxMissingParam is the reader param bounding the share of listed images
// that may be missing or unreadable on disk.
var maxMissingParam = pipeline.Param{Name: "max_missing_fraction", Type: pipeline.Float, Default: defaultMaxMissing,
	Min: pipeline.Bound(0), Max: pipeline.Bound(1),
	Doc: "fail the stage when more than this fraction of the listed images is missing or unreadable on disk " +
		"(a wrong image directory, a missing archive); 1 = never"}

// maxMissingExamples bounds the files an imageCheck error lists.
const maxMissingExamples = 5

// imageCheck tallies the listed images a reader found missing or
// unreadable on disk, for max_missing_fraction.
type imageCheck struct {
	listed   int64
	byReason map[string]int64 // "missing", "unreadable"
	examples []string         // the first few bad files, with their reason
	dirs     []string         // the directories they are in, first seen first
}

func newImageCheck() *imageCheck { return &imageCheck{byReason: map[string]int64{}} }

// add records one listed image at path with the result of reading its
// header.
func (c *imageCheck) add(path string, d dims) {
	c.listed++
	if d.err == nil {
		return
	}
	reason, ex := "missing", filepath.Base(path)+" (missing)"
	if !os.IsNotExist(d.err) {
		reason = "unreadable"
		ex = fmt.Sprintf("%s (unreadable: %s)", filepath.Base(path), strings.TrimPrefix(d.err.Error(), path+": "))
	}
	c.byReason[reason]++
	if len(c.examples) < maxMissingExamples {
		c.examples = append(c.examples, ex)
	}
	if dir := filepath.Dir(path); !slices.Contains(c.dirs, dir) {
		c.dirs = append(c.dirs, dir)
	}
}

func (c *imageCheck) bad() int64 {
	var n int64
	for _, v := range c.byReason {
		n += v
	}
	return n
}

// check returns an error naming the image directories and the first bad
// files when more than maxFrac of the listed images are missing or
// unreadable. kind prefixes the message (the stage kind).
func (c *imageCheck) check(kind string, maxFrac float64) error {
	bad := c.bad()
	if c.listed == 0 || float64(bad) <= maxFrac*float64(c.listed) {
		return nil
	}
	var reasons []string
	for _, r := range slices.Sorted(maps.Keys(c.byReason)) {
		reasons = append(reasons, fmt.Sprintf("%s: %d", r, c.byReason[r]))
	}
	files := slices.Clone(c.examples)
	if more := bad - int64(len(files)); more > 0 {
		files = append(files, fmt.Sprintf("… %d more", more))
	}
	return fmt.Errorf("%s: %d of %d listed images are missing or unreadable, more than max_missing_fraction %.4g (%s) in %s: %s "+
		"(check the image directory, or raise max_missing_fraction to skip them)",
		kind, bad, c.listed, maxFrac, strings.Join(reasons, ", "), strings.Join(c.dirs, ", "), strings.Join(files, "; "))
}

// noImagesLeft is the error of a reader that would write empty tables: the
// issue counts say why every image was skipped. where names the image
// directory or the split file.
func noImagesLeft(kind string, listed int64, where string, iss *issues) error {
	var why []string
	for _, k := range slices.Sorted(maps.Keys(iss.counts)) {
		why = append(why, fmt.Sprintf("%s: %d", k, iss.counts[k]))
	}
	reason := "no image listed"
	if len(why) > 0 {
		reason = strings.Join(why, ", ")
	}
	return fmt.Errorf("%s: no image left of %d listed (%s) in %s: the images and captions tables would be empty", kind, listed, reason, where)
}
