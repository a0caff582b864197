package dataset

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unsafe"

	"coderflow/datasets"
	"coderflow/datasets/npy"
	"coderflow/datasets/table"
	"coderflow/pipeline"
)

func init() { pipeline.Default.MustRegister(PrecompSpec) }

// PrecompSpec is the dataset.precomp stage kind.
var PrecompSpec = pipeline.Spec{
	Kind: "dataset.precomp",
	// 3: info images_skipped_per_split (butd: the images of each split
	// without a TSV record, left out of the tables), for evaluate; the
	// tables are unchanged.
	// 4: {split}_ids.txt may hold one id per caption (5 equal lines per
	// image) for either .npy layout; such a file no longer counts its
	// repeats as duplicate_ids (info changes). Errors now: id groups that
	// disagree, per-caption .npy rows of one image that differ (one
	// caption per image read as 5 per image), .npy shapes of another rank
	// than 2 or 3. Blank lines after the last caption are ignored.
	// 5: butd without tsv finds the *.tsv files by the rules of every
	// other file (datasets.FindAll): through symlinks (a linked source
	// read nothing), __MACOSX skipped, a file linked beside itself read
	// once (its records counted as duplicate_tsv_ids), at most four
	// directories deep; parts named *.tsv.N are TSV files too.
	Version: "5",
	Doc: "Read precomputed region features with their captions: SCAN's {split}_ims.npy (float32 N x 36 x 2048), " +
		"{split}_caps.txt (5 lines per image) and {split}_ids.txt, or bottom-up-attention TSV files " +
		"(image_id, image_w, image_h, num_boxes, boxes, features; base64 float32) matched to {split}_ids.txt. " +
		"Writes images, captions and the sharded features table, so feature extraction is skipped.",
	Produces: []string{table.Images, table.Captions, table.Features},
	Params: []pipeline.Param{
		sourceParam,
		{Name: "format", Type: pipeline.String, Default: "scan", Enum: []string{"scan", "butd"}, Doc: "scan (.npy) or butd (.tsv)"},
		{Name: "dataset", Type: pipeline.String, Optional: true, Doc: "look in the directory {dataset}_precomp (e.g. f30k, coco) under the source; empty = the source itself"},
		{Name: "splits", Type: pipeline.StringList, Default: []string{"train", "dev", "test"}, Doc: "splits to read (SCAN COCO also has testall)"},
		{Name: "tsv", Type: pipeline.StringList, Default: []string{}, Doc: "butd: TSV file names under the source; empty = every *.tsv found"},
		{Name: "shard_rows", Type: pipeline.Int, Default: 512, Min: pipeline.Bound(1), Doc: "images per features shard"},
		{Name: "compression", Type: pipeline.String, Default: "snappy", Enum: table.Compressions, Doc: "Parquet codec of the features shards"},
		strictParam,
	},
	InputsUnused: sourceGiven,
	Stage:        pipeline.StageFunc(runPrecomp),
}

func runPrecomp(ctx context.Context, env *pipeline.Env) error {
	p := env.Params
	roots, err := sourceRoots(env)
	if err != nil {
		return err
	}
	if ds := p.String("dataset"); ds != "" {
		d, err := findDir(roots, ds+"_precomp")
		if err != nil {
			return err
		}
		roots = []string{d}
	}
	iss := newIssues(p.Bool("strict"))
	out, err := newOutput(env)
	if err != nil {
		return err
	}
	defer out.abort()
	sh := &featShards{env: env, per: p.Int("shard_rows"),
		opt: table.Options{Compression: p.String("compression"), RowGroupRows: 32}}
	defer sh.abort()
	pc := &precomp{env: env, roots: roots, out: out, sh: sh, iss: iss}
	if p.String("format") == "butd" {
		files, err := tsvFiles(roots, p.Strings("tsv"))
		if err != nil {
			return err
		}
		idx, dups, err := datasets.IndexTSV(ctx, files)
		if err != nil {
			return err
		}
		for i := 0; i < dups; i++ {
			if err := iss.note("duplicate_tsv_ids", "an image id appears twice in the TSV files; the first is used"); err != nil {
				return err
			}
		}
		pc.tsv = idx
		env.SetInfo("tsv_files", len(files))
	}
	for _, split := range p.Strings("splits") {
		if err := pc.split(ctx, split); err != nil {
			return err
		}
	}
	if err := sh.finish(); err != nil {
		return err
	}
	if err := out.close(); err != nil {
		return err
	}
	iss.publish(env)
	env.Summarize("precomputed %s: %d images, %d captions, %d feature shards (%d issues)",
		p.String("format"), pc.imageID, pc.captionID, sh.k, iss.total())
	return nil
}

type precomp struct {
	env                *pipeline.Env
	roots              []string
	out                *output
	sh                 *featShards
	iss                *issues
	tsv                map[int64]datasets.TSVLoc
	imageID, captionID int64
}

// captionReader pulls caption lines, naming file and line in errors.
type captionReader struct {
	file string
	sc   *bufio.Scanner
	line int
}

func openCaptions(p string) (*captionReader, *os.File, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	return &captionReader{file: p, sc: sc}, f, nil
}

func (c *captionReader) next() (string, error) {
	if !c.sc.Scan() {
		if err := c.sc.Err(); err != nil {
			return "", &datasets.FormatError{File: c.file, Line: c.line + 1, Msg: err.Error()}
		}
		return "", &datasets.FormatError{File: c.file, Line: c.line + 1, Msg: "unexpected end of file: fewer than 5 captions for the last image"}
	}
	c.line++
	s := c.sc.Text()
	if c.line == 1 {
		s = strings.TrimPrefix(s, "\ufeff") // a byte order mark
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", &datasets.FormatError{File: c.file, Line: c.line, Msg: "empty caption"}
	}
	if err := datasets.CheckUTF8(c.file, c.line, s); err != nil {
		return "", err
	}
	return s, nil
}

// countLines counts the captions of a captions file: its lines up to the
// last one that is not blank (blank lines after the last caption are an
// editor's extra newline, never read). A blank line before a caption is an
// empty caption, named by its line here, before the count is judged.
func countLines(p string) (int, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, blank := 0, 0 // blank: first blank line since the last caption
	err = datasets.ReadLines(f, p, func(line int, s string) error {
		if strings.TrimSpace(s) == "" {
			if blank == 0 {
				blank = line
			}
			return nil
		}
		if blank != 0 {
			return &datasets.FormatError{File: p, Line: blank, Msg: "empty caption"}
		}
		n = line
		return nil
	})
	return n, err
}

// readIDs reads an ids file (one id per line; blank lines ignored, as
// datasets.ReadImageList does) with the 1-based line number of each id, so
// errors about an id name the line it is on.
func readIDs(p string) (ids []string, lines []int, err error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	err = datasets.ReadLines(f, p, func(line int, s string) error {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
		if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			return &datasets.FormatError{File: p, Line: line, Msg: fmt.Sprintf("want one image id per line, got %q", s)}
		}
		if err := datasets.CheckUTF8(p, line, s); err != nil {
			return err
		}
		ids = append(ids, s)
		lines = append(lines, line)
		return nil
	})
	return ids, lines, err
}

// imageIDs turns the ids of an ids file into one id per image: the file
// has one id per image, or one per caption (5 equal lines per image, as
// some SCAN/VSE++ files have), whose groups must agree: a group with two
// ids means ids and captions are not aligned, and a pick would attach
// captions to the wrong image. lines are the ids' line numbers in; the
// result's lines are those of each image's first id.
func imageIDs(idsPath, capsPath string, ids []string, lines []int, nImages int) ([]string, []int, error) {
	switch len(ids) {
	case nImages:
		return ids, lines, nil
	case nImages * evalCaptions:
		out := make([]string, nImages)
		outLines := make([]int, nImages)
		for i := range out {
			first := ids[i*evalCaptions]
			for k := 1; k < evalCaptions; k++ {
				if j := i*evalCaptions + k; ids[j] != first {
					return nil, nil, &datasets.FormatError{File: idsPath, Line: lines[j], Msg: fmt.Sprintf(
						"id %q differs from %q on line %d: with one id per caption (%d ids for %d captions), the 5 captions of an image share one id",
						ids[j], first, lines[i*evalCaptions], len(ids), nImages*evalCaptions)}
				}
			}
			out[i], outLines[i] = first, lines[i*evalCaptions]
		}
		return out, outLines, nil
	}
	return nil, nil, fmt.Errorf("%s has %d ids but %s has %d captions: want one id per image (%d) or per caption",
		idsPath, len(ids), capsPath, nImages*evalCaptions, nImages)
}

func (pc *precomp) split(ctx context.Context, split string) error {
	capsPath, err := findFile(pc.roots, split+"_caps.txt")
	if err != nil {
		return err
	}
	nCaps, err := countLines(capsPath)
	if err != nil {
		return err
	}
	if nCaps%evalCaptions != 0 {
		return fmt.Errorf("%s: %d lines is not 5 captions per image", capsPath, nCaps)
	}
	nImages := nCaps / evalCaptions
	var ids []string
	var idLines []int
	idsPath, err := findFile(pc.roots, split+"_ids.txt")
	switch {
	case err == nil:
		all, lines, err := readIDs(idsPath)
		if err != nil {
			return err
		}
		if ids, idLines, err = imageIDs(idsPath, capsPath, all, lines, nImages); err != nil {
			return err
		}
	case errors.Is(err, datasets.ErrNotFound) && pc.tsv == nil:
		// SCAN's ids are optional: keys become split/row.
	default:
		return err
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			if err := pc.iss.note("duplicate_ids", split+": "+id); err != nil {
				return err
			}
		}
		seen[id] = true
	}
	caps, cf, err := openCaptions(capsPath)
	if err != nil {
		return err
	}
	defer cf.Close()
	prog := pc.env.Progress(split+" images", int64(nImages))
	defer prog.Done()
	if pc.tsv != nil {
		return pc.butdSplit(ctx, split, ids, idLines, idsPath, nImages, caps, prog)
	}
	return pc.scanSplit(ctx, split, ids, nImages, caps, prog)
}

func (pc *precomp) writeImage(split, key string, w, h int, caps *captionReader, keep bool) error {
	texts := make([]string, 0, evalCaptions)
	for k := 0; k < evalCaptions; k++ {
		s, err := caps.next()
		if err != nil {
			return err
		}
		texts = append(texts, s)
	}
	if !keep {
		return nil
	}
	if err := pc.out.image(table.ImageRow{ImageID: pc.imageID, Key: key, Split: split, Width: int32(w), Height: int32(h)}); err != nil {
		return err
	}
	for o, t := range texts {
		if err := pc.out.caption(table.CaptionRow{CaptionID: pc.captionID, ImageID: pc.imageID, Split: split, Ordinal: int32(o), Text: t}); err != nil {
			return err
		}
		pc.captionID++
	}
	pc.imageID++
	return nil
}

func (pc *precomp) scanSplit(ctx context.Context, split string, ids []string, nImages int, caps *captionReader, prog pipeline.Progress) error {
	imsPath, err := findFile(pc.roots, split+"_ims.npy")
	if err != nil {
		return err
	}
	r, err := npy.Open(imsPath)
	if err != nil {
		return err
	}
	defer r.Close()
	h := r.Header()
	// SCAN stores one row per image; older VSE++ files repeat each image's
	// features for each of its 5 captions (one row per caption).
	div := 1
	switch h.Rows() {
	case nImages:
	case nImages * evalCaptions:
		div = evalCaptions
	default:
		return fmt.Errorf("%s has %d rows but %s has %d captions: want one row per image (%d) or per caption",
			imsPath, h.Rows(), caps.file, nImages*evalCaptions, nImages)
	}
	if nImages == 0 {
		return nil // nothing to read; the row buffer below is sized from the header alone
	}
	regions, dim := 0, 0
	switch len(h.Shape) {
	case 2:
		regions, dim = 1, h.Shape[1]
	case 3:
		regions, dim = h.Shape[1], h.Shape[2]
	}
	if regions < 1 || dim < 1 {
		// Another rank would give feature rows whose regions x dim is not
		// their length (N x 6 x 6 x 2048 read as 6 regions of 6 values).
		return fmt.Errorf("%s: shape %v: want N x regions x dim (SCAN: N x 36 x 2048) or N x dim, with regions and dim at least 1", imsPath, h.Shape)
	}
	feats := make([]float32, h.RowLen())
	boxes := make([]float32, 4*regions) // unknown for SCAN: zeros
	var same []float32                  // per-caption layout: the rows that must repeat feats
	if div > 1 {
		same = make([]float32, h.RowLen())
	}
	for i := 0; i < nImages; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		need, err := pc.sh.next()
		if err != nil {
			return err
		}
		if need {
			if _, err := r.Read(feats); err != nil {
				return err
			}
			if err := checkFinite(feats, dim); err != nil {
				return fmt.Errorf("%s: row %d (image %d of split %s): %w", imsPath, i*div, i, split, err)
			}
			if err := pc.sh.write(table.FeatureRow{ImageID: pc.imageID, NRegions: int32(regions), Dim: int32(dim), Boxes: boxes, Feats: feats}); err != nil {
				return err
			}
			// The per-caption layout repeats an image's row for each of its
			// captions. Rows that differ mean another layout (one caption
			// and one row per image, whose line count is also a multiple
			// of 5): reading every fifth row would attach five images'
			// captions to one image's features.
			for k := 1; k < div; k++ {
				if _, err := r.Read(same); err != nil {
					return err
				}
				if !slices.Equal(math32Bits(same), math32Bits(feats)) {
					return fmt.Errorf("%s: row %d differs from row %d: %d rows for %d caption lines read as one row per caption, "+
						"whose 5 rows per image are equal; one caption per image is not a supported layout (want 5 caption lines per image)",
						imsPath, i*div+k, i*div, h.Rows(), nImages*evalCaptions)
				}
			}
		} else if err := r.Skip(div); err != nil {
			return err
		}
		key := split + "/" + strconv.Itoa(i)
		if ids != nil {
			key = ids[i]
		}
		if err := pc.writeImage(split, key, 0, 0, caps, true); err != nil {
			return err
		}
		if err := pc.sh.done(); err != nil {
			return err
		}
		prog.Add(1)
	}
	return nil
}

func (pc *precomp) butdSplit(ctx context.Context, split string, ids []string, idLines []int, idsPath string, nImages int, caps *captionReader, prog pipeline.Progress) error {
	if ids == nil {
		return fmt.Errorf("butd: %s_ids.txt is required to match TSV records to captions", split)
	}
	for i, sid := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		prog.Add(1)
		id, err := strconv.ParseInt(sid, 10, 64)
		if err != nil {
			return &datasets.FormatError{File: idsPath, Line: idLines[i], Msg: fmt.Sprintf("image id %q is not an integer", sid)}
		}
		loc, ok := pc.tsv[id]
		if !ok {
			if err := pc.iss.skipImage(split, "missing_features", split+": "+sid); err != nil {
				return err
			}
			if err := pc.writeImage(split, sid, 0, 0, caps, false); err != nil {
				return err
			}
			continue
		}
		rec, err := datasets.ReadTSVAt(loc)
		if err != nil {
			return err
		}
		need, err := pc.sh.next()
		if err != nil {
			return err
		}
		if need {
			if err := checkFinite(rec.Features, rec.Dim); err != nil {
				return fmt.Errorf("%s:%d: image %s: %w", loc.File, loc.Line, sid, err)
			}
			boxes := make([]float32, len(rec.Boxes))
			w, h := float32(max(rec.Width, 1)), float32(max(rec.Height, 1))
			for b := 0; b < rec.NumBoxes; b++ {
				boxes[4*b] = clamp01(rec.Boxes[4*b] / w)
				boxes[4*b+1] = clamp01(rec.Boxes[4*b+1] / h)
				boxes[4*b+2] = clamp01(rec.Boxes[4*b+2] / w)
				boxes[4*b+3] = clamp01(rec.Boxes[4*b+3] / h)
			}
			if err := pc.sh.write(table.FeatureRow{ImageID: pc.imageID, NRegions: int32(rec.NumBoxes), Dim: int32(rec.Dim), Boxes: boxes, Feats: rec.Features}); err != nil {
				return err
			}
		}
		if err := pc.writeImage(split, sid, rec.Width, rec.Height, caps, true); err != nil {
			return err
		}
		if err := pc.sh.done(); err != nil {
			return err
		}
	}
	return nil
}

// math32Bits views v's values as their bit patterns, so rows compare
// equal exactly when their bytes do (NaN included, which checkFinite then
// reports).
func math32Bits(v []float32) []uint32 {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&v[0])), len(v))
}

func clamp01(v float32) float32 { return min(max(v, 0), 1) }

// isTSVName reports whether a file name is a BUTD TSV: *.tsv, or a part
// *.tsv.N (N digits), as bottom-up-attention's adaptive-box download splits
// its Karpathy train file (karpathy_train_resnet101_faster_rcnn_genome.tsv.0
// and .tsv.1).
func isTSVName(name string) bool {
	if strings.HasSuffix(name, ".tsv") {
		return true
	}
	i := strings.LastIndex(name, ".tsv.")
	if i < 0 || i+len(".tsv.") == len(name) {
		return false
	}
	for _, c := range name[i+len(".tsv."):] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// tsvFiles returns the named TSV files, or else every *.tsv under roots,
// found by the rules of datasets.FindFile (symlinks followed, __MACOSX
// skipped, a file linked beside itself listed once), sorted.
func tsvFiles(roots, names []string) ([]string, error) {
	if len(names) > 0 {
		var out []string
		for _, n := range names {
			p, err := findFile(roots, n)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
		return out, nil
	}
	var out []string
	for _, r := range roots {
		ps, err := datasets.FindAll(r, isTSVName)
		if err != nil && !errors.Is(err, datasets.ErrNotFound) {
			return nil, err
		}
		out = append(out, ps...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("butd: no *.tsv (or *.tsv.N) file under %s", strings.Join(roots, ", "))
	}
	sort.Strings(out)
	return out, nil
}

// featShards writes the features table in shards of per images, committing
// each so an interrupted run resumes after the last finished shard.
type featShards struct {
	env  *pipeline.Env
	per  int
	opt  table.Options
	k    int // current shard number
	in   int // images in the current shard so far
	w    *table.Writer[table.FeatureRow]
	skip bool // current shard was committed by an earlier attempt
}

func (s *featShards) name() string { return fmt.Sprintf("features/part-%05d.parquet", s.k) }

// next is called before each image; it reports whether its features must
// be written (false while inside an already committed shard).
func (s *featShards) next() (bool, error) {
	if s.in == 0 {
		if s.env.ShardDone(s.name()) {
			s.skip = true
		} else {
			s.skip = false
			w, err := table.Create[table.FeatureRow](s.env.Path(s.name()), s.env, table.Features, s.opt)
			if err != nil {
				return false, err
			}
			s.w = w
		}
	}
	return !s.skip, nil
}

// checkFinite reports the first NaN or infinite value of one image's
// features (regions of dim values each): training on it would only fail
// later with a NaN loss that names no file.
func checkFinite(feats []float32, dim int) error {
	for j, v := range feats {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("feature value %v at region %d, component %d: precomputed features must be finite", v, j/max(dim, 1), j%max(dim, 1))
		}
	}
	return nil
}

func (s *featShards) write(r table.FeatureRow) error { return s.w.Write([]table.FeatureRow{r}) }

// done is called after each image.
func (s *featShards) done() error {
	s.in++
	if s.in == s.per {
		return s.closeShard()
	}
	return nil
}

func (s *featShards) closeShard() error {
	if s.in == 0 {
		return nil
	}
	if !s.skip {
		if err := s.w.Close(); err != nil {
			return err
		}
		s.w = nil
		if err := s.env.CommitShard(s.name(), s.name()); err != nil {
			return err
		}
	}
	s.env.AddTable(table.Features, int64(s.in), s.name())
	s.k++
	s.in = 0
	return nil
}

func (s *featShards) finish() error {
	if err := s.closeShard(); err != nil {
		return err
	}
	if s.k == 0 {
		s.env.AddTable(table.Features, 0) // declared even when empty
	}
	return nil
}

func (s *featShards) abort() {
	if s.w != nil {
		s.w.Abort()
	}
}
