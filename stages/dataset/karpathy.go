package dataset

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"coderflow/datasets"
	"coderflow/datasets/table"
	"coderflow/pipeline"
)

func init() {
	pipeline.Default.MustRegister(COCOSpec)
	pipeline.Default.MustRegister(F30KSpec)
}

// karpathyKind configures a Karpathy-split reader.
type karpathyKind struct {
	name      string   // for messages
	jsonFile  string   // default split file name
	imageDirs []string // where images live when the JSON has no filepath
}

var (
	cocoKind = karpathyKind{name: "coco", jsonFile: "dataset_coco.json"}
	f30kKind = karpathyKind{name: "f30k", jsonFile: "dataset_flickr30k.json",
		imageDirs: []string{"flickr30k-images", "flickr30k_images", "Images", "images"}}
)

func karpathyParams(k karpathyKind) []pipeline.Param {
	ps := []pipeline.Param{
		sourceParam,
		{Name: "json", Type: pipeline.String, Default: k.jsonFile, Doc: "Karpathy split file name, searched under the source"},
		{Name: "captions_per_image", Type: pipeline.Int, Default: 5, Min: pipeline.Bound(0),
			Doc: "captions kept per training image (the first N; 0 = all); dev and test images always keep their first 5, and those with fewer than 5 are skipped and counted"},
		{Name: "check_images", Type: pipeline.Bool, Default: true,
			Doc: "require each image file and read its size; false = trust the JSON (width/height 0, for precomputed features)"},
		strictParam,
		maxMissingParam,
		workersParam,
	}
	if k.name == "coco" {
		ps = append(ps, pipeline.Param{Name: "captions_json", Type: pipeline.StringList, Default: []string{},
			Doc: "read COCO's own captions files instead of the Karpathy JSON: FILE or FILE=SPLIT (train, val or dev, test, restval), " +
				"e.g. [captions_train2014.json=train, captions_val2014.json=val]; the split defaults to train for names containing \"train\", else val"})
		ps = append(ps, pipeline.Param{Name: "restval", Type: pipeline.String, Default: "train", Enum: []string{"train", "restval", "drop"},
			Doc: "where COCO's restval images go: train (the standard 113,287-image training set), keep as restval, or drop"})
	}
	return ps
}

// COCOSpec is the dataset.coco stage kind.
var COCOSpec = pipeline.Spec{
	Kind: "dataset.coco",
	// 2: byte order marks, empty captions and invalid UTF-8 handled.
	// 3: width and height as displayed (EXIF orientation 5-8 swaps them).
	// 4: info images_skipped_per_split (the images of each split left out
	// of the tables), for evaluate; the tables are unchanged.
	Version: "4",
	Doc: "Read COCO with the Karpathy split (dataset_coco.json; restval joins train: 113,287/5,000/5,000) " +
		"and the train2014/val2014 image directories into the images and captions tables.",
	Produces:     []string{table.Images, table.Captions},
	Params:       karpathyParams(cocoKind),
	Validate:     validateCOCO,
	InputsUnused: sourceGiven,
	Stage:        pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error { return runKarpathy(ctx, env, cocoKind) }),
}

// F30KSpec is the dataset.f30k stage kind.
var F30KSpec = pipeline.Spec{
	Kind: "dataset.f30k",
	// 2: byte order marks, empty captions and invalid UTF-8 handled.
	// 3: width and height as displayed (EXIF orientation 5-8 swaps them).
	// 4: info images_skipped_per_split (the images of each split left out
	// of the tables), for evaluate; the tables are unchanged.
	Version: "4",
	Doc: "Read Flickr30K with the Karpathy split (dataset_flickr30k.json: 29,000/1,014/1,000) " +
		"and the flickr30k-images directory into the images and captions tables.",
	Produces:     []string{table.Images, table.Captions},
	Params:       karpathyParams(f30kKind),
	InputsUnused: sourceGiven,
	Stage:        pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error { return runKarpathy(ctx, env, f30kKind) }),
}

// karpathySplit maps a Karpathy split name to a table split ("" = drop).
func karpathySplit(s, restval string) (string, bool) {
	switch s {
	case "train":
		return table.SplitTrain, true
	case "val", "dev":
		return table.SplitDev, true
	case "test":
		return table.SplitTest, true
	case "restval":
		switch restval {
		case "train":
			return table.SplitTrain, true
		case "restval":
			return table.SplitRestval, true
		}
		return "", true
	}
	return "", false
}

// captionsJSONSplit parses one captions_json entry, "FILE" or
// "FILE=SPLIT", into the file name and its Karpathy-style split name. A
// split karpathySplit does not know is an error: every image of the file
// would otherwise be skipped (counted as unknown_split_skipped), which for
// a typo such as "=tset" silently drops a whole split.
func captionsJSONSplit(spec string) (name, split string, err error) {
	name, split, ok := strings.Cut(spec, "=")
	name, split = strings.TrimSpace(name), strings.TrimSpace(split)
	if !ok {
		split = "val"
		if strings.Contains(name, "train") {
			split = "train"
		}
	}
	if name == "" {
		return "", "", fmt.Errorf("%q: no file name", spec)
	}
	if _, known := karpathySplit(split, "train"); !known {
		return "", "", fmt.Errorf("%q: split %q is not train, val, test or restval", spec, split)
	}
	return name, split, nil
}

// validateCOCO checks the captions_json entries at plan time.
func validateCOCO(p pipeline.Params) error {
	var errs []error
	for _, spec := range p.Strings("captions_json") {
		if _, _, err := captionsJSONSplit(spec); err != nil {
			errs = append(errs, pipeline.ParamError("captions_json", err))
		}
	}
	return errors.Join(errs...)
}

// karpathyChunk is how many images are checked on disk at a time.
const karpathyChunk = 1024

func runKarpathy(ctx context.Context, env *pipeline.Env, k karpathyKind) error {
	p := env.Params
	roots, err := sourceRoots(env)
	if err != nil {
		return err
	}
	var cocoCaps []string
	if k.name == "coco" {
		cocoCaps = p.Strings("captions_json")
	}
	var jsonPath string
	if len(cocoCaps) == 0 {
		if jsonPath, err = findFile(roots, p.String("json")); err != nil {
			return err
		}
	}
	restval := "train"
	if k.name == "coco" {
		restval = p.String("restval")
	}
	perImage := p.Int("captions_per_image")
	check := p.Bool("check_images")
	iss := newIssues(p.Bool("strict"))
	out, err := newOutput(env)
	if err != nil {
		return err
	}
	defer out.abort()

	dirs := map[string]string{} // filepath field -> directory found
	imageDir := func(fp string) (string, error) {
		if d, ok := dirs[fp]; ok {
			return d, nil
		}
		var d string
		var err error
		if fp != "" {
			if !filepath.IsLocal(fp) {
				return "", fmt.Errorf("filepath %q: not a directory name inside the data set", fp)
			}
			d, err = findDir(roots, fp)
		} else if len(k.imageDirs) > 0 {
			d, err = findDir(roots, k.imageDirs...)
		} else {
			err = fmt.Errorf("image entry without filepath")
		}
		if err != nil {
			return "", err
		}
		dirs[fp] = d
		return d, nil
	}

	type pending struct {
		im    datasets.KarpathyImage
		split string
		path  string
	}
	var chunk []pending
	seenFile := map[string]string{} // filepath/filename -> its split
	var imageID, captionID int64
	var listed int64 // images queued for the tables (after split and duplicate checks)
	chk := newImageCheck()
	prog := env.Progress("images", 0)
	defer prog.Done()
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		var dm []dims
		if check {
			paths := make([]string, len(chunk))
			for i, c := range chunk {
				paths[i] = c.path
			}
			var err error
			if dm, err = imageDims(ctx, paths, p.Int("workers"), prog); err != nil {
				return err
			}
		}
		for i, c := range chunk {
			var w, h int
			if check {
				chk.add(c.path, dm[i])
				if bad, err := noteBadImage(iss, dm[i], c.split, c.path); bad || err != nil {
					if err != nil {
						return err
					}
					continue
				}
				w, h = dm[i].w, dm[i].h
			} else {
				prog.Add(1)
			}
			// A sentence without text (raw and tokens empty) is skipped and
			// counted before the caption counts are checked, so an
			// evaluation image left with fewer than 5 is skipped too.
			sents := c.im.Sentences[:0:0]
			for _, s := range c.im.Sentences {
				if captionText(s) == "" {
					if err := iss.note("empty_captions_skipped", fmt.Sprintf("%s (%s, sentid %d)", c.im.Filename, c.split, s.SentID)); err != nil {
						return err
					}
					continue
				}
				sents = append(sents, s)
			}
			eval := c.split == table.SplitDev || c.split == table.SplitTest
			switch {
			case eval && len(sents) < evalCaptions:
				if err := iss.skipImage(c.split, "eval_images_under_5_captions_skipped", fmt.Sprintf("%s (%d)", c.im.Filename, len(sents))); err != nil {
					return err
				}
				continue
			case len(sents) == 0:
				if err := iss.skipImage(c.split, "images_without_captions", c.im.Filename); err != nil {
					return err
				}
				continue
			case len(sents) != evalCaptions:
				// COCO has 5-7 captions per image: keeping the first 5 is the
				// standard; counted so the effect is visible.
				if err := iss.note("images_not_5_captions", fmt.Sprintf("%s (%s, %d)", c.im.Filename, c.split, len(sents))); err != nil {
					return err
				}
			}
			keep := perImage
			if eval {
				keep = evalCaptions
			}
			if keep > 0 && len(sents) > keep {
				sents = sents[:keep]
			}
			key := c.im.Filename
			if c.im.Filepath != "" {
				key = c.im.Filepath + "/" + c.im.Filename
			}
			if err := out.image(table.ImageRow{ImageID: imageID, Key: key, Split: c.split, Path: c.path,
				Width: int32(w), Height: int32(h)}); err != nil {
				return err
			}
			for o, s := range sents {
				if err := out.caption(table.CaptionRow{CaptionID: captionID, ImageID: imageID, Split: c.split,
					Ordinal: int32(o), Text: captionText(s)}); err != nil {
					return err
				}
				captionID++
			}
			imageID++
		}
		chunk = chunk[:0]
		return nil
	}

	curFile := jsonPath // the file the images come from, for messages
	each := func(im datasets.KarpathyImage) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		split, known := karpathySplit(im.Split, restval)
		if !known {
			return iss.note("unknown_split_skipped", fmt.Sprintf("%s (%q)", im.Filename, im.Split))
		}
		if split == "" {
			return nil // restval: drop
		}
		id := im.Filepath + "/" + im.Filename
		if prev, dup := seenFile[id]; dup {
			if prev != split {
				// an image of split left out (it stays in prev)
				return iss.skipImage(split, "duplicate_images", fmt.Sprintf("%s (%s and %s)", id, prev, split))
			}
			return iss.note("duplicate_images", id)
		}
		seenFile[id] = split
		var path string
		if check {
			dir, err := imageDir(im.Filepath)
			if err != nil {
				return fmt.Errorf("%s: image %q: %w", curFile, im.Filename, err)
			}
			if !filepath.IsLocal(im.Filename) {
				// "../x.jpg" or "/etc/x" would be read from outside the
				// image directory
				return fmt.Errorf("%s: image %q: not a file name inside the image directory", curFile, im.Filename)
			}
			path = filepath.Join(dir, im.Filename)
		}
		chunk = append(chunk, pending{im: im, split: split, path: path})
		listed++
		if len(chunk) >= karpathyChunk {
			return flush()
		}
		return nil
	}
	if len(cocoCaps) > 0 {
		for _, spec := range cocoCaps {
			curFile, _, _ = strings.Cut(spec, "=")
			if err := readCOCOCaptionsFile(roots, spec, iss, each); err != nil {
				return err
			}
		}
	} else {
		f, err := os.Open(jsonPath)
		if err != nil {
			return err
		}
		err = datasets.ReadKarpathy(f, jsonPath, each)
		f.Close()
		if err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	kind := "dataset." + k.name
	if err := chk.check(kind, p.Float(maxMissingParam.Name)); err != nil {
		return err
	}
	if imageID == 0 {
		where := jsonPath
		if len(cocoCaps) > 0 {
			where = strings.Join(cocoCaps, ", ")
		}
		if len(dirs) > 0 {
			where = strings.Join(slices.Compact(slices.Sorted(maps.Values(dirs))), ", ")
		}
		return noImagesLeft(kind, listed, where, iss)
	}
	if err := out.close(); err != nil {
		return err
	}
	iss.publish(env)
	env.Summarize("%s (Karpathy split): %d images, %d captions (%d issues)", k.name, imageID, captionID, iss.total())
	return nil
}

// captionText is a sentence's raw text, or its tokens joined when the raw
// text is missing; "" when it has neither.
func captionText(s datasets.KarpathySentence) string {
	if text := strings.TrimSpace(s.Raw); text != "" {
		return text
	}
	return strings.TrimSpace(strings.Join(s.Tokens, " "))
}

// readCOCOCaptionsFile turns one COCO captions_*.json ("FILE" or
// "FILE=SPLIT") into Karpathy-style images, in the file's image order, with
// captions in annotation-id order. Captions of images the file does not
// list are counted in iss. The image directory is the middle part
// of COCO file names (COCO_train2014_... -> train2014).
func readCOCOCaptionsFile(roots []string, spec string, iss *issues, fn func(datasets.KarpathyImage) error) error {
	name, split, err := captionsJSONSplit(spec)
	if err != nil {
		return fmt.Errorf("captions_json %w", err)
	}
	p, err := findFile(roots, name)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	c, err := datasets.ReadCOCOCaptions(f, p)
	f.Close()
	if err != nil {
		return err
	}
	byImage := map[int64][]int{}
	for i, a := range c.Annotations {
		byImage[a.ImageID] = append(byImage[a.ImageID], i)
	}
	listed := make(map[int64]bool, len(c.Images))
	names := make(map[int64]string, len(c.Images))
	for _, im := range c.Images {
		if prev, dup := names[im.ID]; dup && prev != im.FileName {
			// Captions are matched by image_id: both files would get the
			// same captions, one of them another image's. (The same entry
			// twice is a counted duplicate_images.)
			return fmt.Errorf("%s: image id %d is listed for two files, %s and %s: its captions cannot be attributed", p, im.ID, prev, im.FileName)
		}
		names[im.ID] = im.FileName
		listed[im.ID] = true
	}
	for _, a := range c.Annotations {
		if !listed[a.ImageID] {
			if err := iss.note("captions_without_image_skipped", fmt.Sprintf("%s: annotation %d (image_id %d)", name, a.ID, a.ImageID)); err != nil {
				return err
			}
		}
	}
	for _, im := range c.Images {
		anns := byImage[im.ID]
		sort.Slice(anns, func(x, y int) bool { return c.Annotations[anns[x]].ID < c.Annotations[anns[y]].ID })
		k := datasets.KarpathyImage{Filename: im.FileName, Split: split, CocoID: im.ID, ImgID: im.ID}
		if parts := strings.Split(im.FileName, "_"); len(parts) == 3 && parts[0] == "COCO" {
			k.Filepath = parts[1]
		}
		for _, i := range anns {
			k.Sentences = append(k.Sentences, datasets.KarpathySentence{Raw: c.Annotations[i].Caption, SentID: c.Annotations[i].ID})
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}
