package dataset

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"coderflow/datasets"
	"coderflow/datasets/table"
	"coderflow/pipeline"
)

func init() { pipeline.Default.MustRegister(Flickr8kSpec) }

const flickr8kKind = "dataset.flickr8k"

// Flickr8kSpec is the dataset.flickr8k stage kind.
var Flickr8kSpec = pipeline.Spec{
	Kind: flickr8kKind,
	// 2: byte order marks and invalid UTF-8 handled.
	// 3: width and height as displayed: a JPEG whose EXIF orientation
	// turns it by 90 or 270 degrees has them swapped (imagesize.go).
	// 4: info images_skipped_per_split: the listed images of each split
	// left out of the tables (missing or unreadable, caption counts,
	// listed in an earlier split too), so that evaluate can say a test
	// split is not the full one; the tables are unchanged.
	Version: "4",
	Doc: "Read Flickr8k (Flickr8k.token.txt, Flickr_8k.{train,dev,test}Images.txt and the image directory) " +
		"from an unpacked copy or upstream download stages into the images and captions tables. " +
		"Image paths are absolute. Anomalies are skipped and counted in the manifest (info.issues, and the skipped images " +
		"per split in info.images_skipped_per_split) unless strict; " +
		"the stage fails when more than max_missing_fraction of the listed images are missing or unreadable, or none is left.",
	Produces: []string{table.Images, table.Captions},
	Params: []pipeline.Param{
		sourceParam,
		strictParam,
		maxMissingParam,
		workersParam,
	},
	InputsUnused: sourceGiven,
	Stage:        pipeline.StageFunc(runFlickr8k),
}

var (
	strictParam = pipeline.Param{Name: "strict", Type: pipeline.Bool, Default: false,
		Doc: "fail on the first anomaly (missing image, duplicate, caption count) instead of skipping and counting it"}
	workersParam = pipeline.Param{Name: "workers", Type: pipeline.Int, Default: 0, NoCache: true,
		Doc: "image headers are read by twice this many goroutines (the reads wait on I/O); 0 = number of CPUs", Min: pipeline.Bound(0)}
)

// evalCaptions is the number of captions an image in an evaluation split
// (dev, test) must have.
const evalCaptions = 5

type f8kCaption struct {
	k    int
	text string
}

func runFlickr8k(ctx context.Context, env *pipeline.Env) error {
	roots, err := sourceRoots(env)
	if err != nil {
		return err
	}
	iss := newIssues(env.Params.Bool("strict"))
	tokenPath, err := findFile(roots, datasets.Flickr8kTokenFile)
	if err != nil {
		return err
	}
	imgDir, err := findDir(roots, datasets.Flickr8kImageDirs...)
	if err != nil {
		return err
	}
	// Splits, in list order: train, dev, test. An image in two lists stays
	// in the first.
	type listed struct{ name, split string }
	var order []listed
	splitOf := map[string]string{}
	for _, l := range []struct{ file, split string }{
		{datasets.Flickr8kTrainList, table.SplitTrain},
		{datasets.Flickr8kDevList, table.SplitDev},
		{datasets.Flickr8kTestList, table.SplitTest},
	} {
		p, err := findFile(roots, l.file)
		if err != nil {
			return err
		}
		names, err := readListFile(p)
		if err != nil {
			return err
		}
		for i, n := range names {
			if !filepath.IsLocal(n) {
				// "../x.jpg" or "/etc/x" would be read from outside the
				// image directory
				return fmt.Errorf("%s: image %d of the list, %q: not a file name inside the image directory", p, i+1, n)
			}
			if prev, dup := splitOf[n]; dup {
				// listed in another split too: an image of l.split left
				// out; listed twice in the same list: no image lost
				note := iss.note
				if prev != l.split {
					note = func(kind, ex string) error { return iss.skipImage(l.split, kind, ex) }
				}
				if err := note("duplicate_listed_images", fmt.Sprintf("%s in %s and %s", n, prev, l.split)); err != nil {
					return err
				}
				continue
			}
			splitOf[n] = l.split
			order = append(order, listed{n, l.split})
		}
	}
	env.Log.Info("flickr8k", "tokens", tokenPath, "images", imgDir, "listed", len(order))

	// Captions by image. Flickr8k is 8k images, so holding its 40k captions
	// is fine; the token file itself is streamed.
	caps := map[string][]f8kCaption{}
	seenK := map[string]map[int]bool{}
	unlisted := map[string]bool{}
	f, err := os.Open(tokenPath)
	if err != nil {
		return err
	}
	err = datasets.ReadFlickr8kTokens(f, tokenPath, func(line int, name string, k int, text string) error {
		if _, ok := splitOf[name]; !ok {
			if !unlisted[name] {
				unlisted[name] = true
			}
			return nil
		}
		if seenK[name] == nil {
			seenK[name] = map[int]bool{}
		}
		if seenK[name][k] {
			return iss.note("duplicate_captions", fmt.Sprintf("%s:%d: %s#%d", tokenPath, line, name, k))
		}
		seenK[name][k] = true
		caps[name] = append(caps[name], f8kCaption{k, text})
		return nil
	})
	f.Close()
	if err != nil {
		return err
	}
	if len(unlisted) > 0 {
		// Not an anomaly: the 1k subset and custom splits leave images out.
		env.SetInfo("unlisted_images_skipped", len(unlisted))
	}

	paths := make([]string, len(order))
	for i, l := range order {
		paths[i] = filepath.Join(imgDir, l.name)
	}
	prog := env.Progress("image headers", int64(len(paths)))
	dm, err := imageDims(ctx, paths, env.Params.Int("workers"), prog)
	prog.Done()
	if err != nil {
		return err
	}
	chk := newImageCheck()
	for i, p := range paths {
		chk.add(p, dm[i])
	}
	if err := chk.check(flickr8kKind, env.Params.Float(maxMissingParam.Name)); err != nil {
		return err
	}

	out, err := newOutput(env)
	if err != nil {
		return err
	}
	defer out.abort()
	var imageID, captionID int64
	for i, l := range order {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := caps[l.name]
		if bad, err := noteBadImage(iss, dm[i], l.split, l.name); bad || err != nil {
			if err != nil {
				return err
			}
			continue
		}
		switch {
		case len(c) == 0:
			if err := iss.skipImage(l.split, "images_without_captions", l.name); err != nil {
				return err
			}
			continue
		case len(c) != evalCaptions && l.split != table.SplitTrain:
			if err := iss.skipImage(l.split, "eval_images_not_5_captions_skipped", fmt.Sprintf("%s (%s, %d captions)", l.name, l.split, len(c))); err != nil {
				return err
			}
			continue
		case len(c) != evalCaptions:
			if err := iss.note("train_images_not_5_captions_kept", fmt.Sprintf("%s (%d captions)", l.name, len(c))); err != nil {
				return err
			}
		}
		sort.Slice(c, func(a, b int) bool { return c[a].k < c[b].k })
		if err := out.image(table.ImageRow{ImageID: imageID, Key: l.name, Split: l.split, Path: paths[i],
			Width: int32(dm[i].w), Height: int32(dm[i].h)}); err != nil {
			return err
		}
		for o, cp := range c {
			if err := out.caption(table.CaptionRow{CaptionID: captionID, ImageID: imageID, Split: l.split,
				Ordinal: int32(o), Text: cp.text}); err != nil {
				return err
			}
			captionID++
		}
		imageID++
	}
	if imageID == 0 {
		return noImagesLeft(flickr8kKind, int64(len(order)), imgDir, iss)
	}
	if err := out.close(); err != nil {
		return err
	}
	iss.publish(env)
	env.Summarize("flickr8k: %d images, %d captions (%d issues)", imageID, captionID, iss.total())
	return nil
}

func readListFile(p string) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return datasets.ReadImageList(f, p)
}
