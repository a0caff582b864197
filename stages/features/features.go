package features

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"golang.org/x/sync/errgroup"

	"coderflow/datasets/table"
	"coderflow/internal/atomicfile"
	"coderflow/internal/pqcheck"
	"coderflow/pipeline"
	"coderflow/stages/features/descriptor"
)

func init() { pipeline.Default.MustRegister(Spec) }

// Key-value metadata written into every feature shard, besides the
// stage/kind/key/version/table keys of package table.
const (
	MetaDim       = "coderflow.dim"        // per-region dimension, e.g. "104"
	MetaRegions   = "coderflow.regions"    // regions per image, e.g. "36"
	MetaParts     = "coderflow.parts"      // descriptor parts, comma-separated
	MetaShortSide = "coderflow.short_side" // resize target of the short side
)

// chunkRows is the number of images computed between two writes (more
// when there are more workers, see config.chunk).
const chunkRows = 64

// maxListedFailures caps the failures listed by name in the manifest; the
// counts are always complete.
const maxListedFailures = 1000

// Spec is the features.regions stage kind.
var Spec = pipeline.Spec{
	Kind: "features.regions",
	// 2: the last two row groups share a remainder; no min/max statistics
	// for boxes and feats. 3: HOG is unsigned at 180 degrees too (a
	// gradient pointing left went to the last bin instead of bin 0); a GIF
	// whose first frame is offset is described on its whole logical screen;
	// a sequential JPEG missing only its end marker is decoded, not skipped.
	// 4: neither resized side goes below min(short_side, 24): a strip of
	// aspect above 4*short_side/24 (43:1 by default) is stretched across
	// instead of leaving lattice cells, regions and gradients empty; a
	// resumed shard whose sidecar disagrees with its file is recomputed.
	// 5: the end-marker repair no longer decodes a sequential JPEG whose
	// components are coded in separate scans and which is cut between two
	// of them (image/jpeg left the missing planes zero: wrong colours); it
	// is skipped as corrupt. A PNG, JPEG or BMP too short for the image its
	// header declares is refused as truncated before decoding (it failed
	// as corrupt after allocating the image; only the message changes). A
	// 32-bit BMP whose alpha bytes are all zero is opaque, as browsers show
	// it (it was described as a black image).
	Version: "5",
	// The working set is bounded (a few row groups and a pool of vectors),
	// the garbage large and pointer-free (decoded images, pages): collecting
	// at +25 % keeps peak memory flat in the number of images (with the
	// default 100 the 8,750-image run peaked 15-30 % above the 875-image
	// one) for no measurable loss of images/s. See docs/bench/features.md.
	GCPercent: 25,
	Doc: "Decode the images of the nearest upstream images table (JPEG, PNG, GIF, WebP, BMP, TIFF; EXIF orientation applied; " +
		"images above max_pixels refused from their header), resize to short_side, and describe a fixed set of up to 36 " +
		"boxes (whole image, 2x2 grid, halves, two centre crops, 3x3 and 4x4 grids) with colour (HSV histogram + moments), " +
		"HOG-like gradient orientation, LBP texture, colour position and box geometry (104 values per region with all parts). " +
		"Writes the sharded features table features/part-NNNNN.parquet; resumes from finished shards; missing, empty, " +
		"corrupt, unsupported and oversized images are skipped, counted and listed with their reason, and the stage fails " +
		"only when more than max_fail_fraction of the images fail.",
	Produces: []string{table.Features},
	Params: []pipeline.Param{
		{Name: "regions", Type: pipeline.Int, Default: 36, Min: pipeline.Bound(1), Max: pipeline.Bound(descriptor.MaxRegions),
			Doc: "boxes per image: the first N of the fixed 36-box list (1 = whole image, 5 = + 2x2 grid, 9 = + halves, 11 = + centre crops, 20 = + 3x3, 36 = + 4x4)"},
		{Name: "parts", Type: pipeline.StringList, Default: slices.Clone(descriptor.Parts), Set: true,
			Doc: "descriptor parts: color (34), hog (36), lbp (10), colorpos (16), geom (8); always written in this order, " +
				"so the order and repeats of the list do not matter (nor change the cache key)"},
		{Name: "short_side", Type: pipeline.Int, Default: 256, Min: pipeline.Bound(16), Max: pipeline.Bound(4096),
			Doc: "resize so the short side has this many pixels (long side capped at 4x; neither side below min(short_side, 24), so a thin strip is stretched across)"},
		{Name: "resample", Type: pipeline.String, Default: "approxbilinear", Enum: Resamplers,
			Doc: "resampling filter (x/image/draw); approxbilinear is the fastest smooth one"},
		{Name: "max_pixels", Type: pipeline.Int, Default: 50_000_000, Min: pipeline.Bound(1),
			Doc: "refuse images whose header declares more pixels (decompression bombs)"},
		{Name: "max_fail_fraction", Type: pipeline.Float, Default: 0.01, Min: pipeline.Bound(0), Max: pipeline.Bound(1),
			Doc: "fail the stage when more than this fraction of the images cannot be used"},
		{Name: "shard_rows", Type: pipeline.Int, Default: 2048, Min: pipeline.Bound(1),
			Doc: "images per shard file (the unit of resumption)"},
		{Name: "row_group_rows", Type: pipeline.Int, Default: 256, Min: pipeline.Bound(1),
			Doc: "rows per Parquet row group (the last two of a shard share a partial remainder)"},
		{Name: "compression", Type: pipeline.String, Default: "zstd", Enum: table.Compressions,
			Doc: "Parquet compression codec"},
		{Name: "zstd_level", Type: pipeline.String, Default: "fastest", Enum: []string{"fastest", "default", "better", "best"},
			Doc: "zstd level when compression is zstd: fastest writes about 2x faster than default for a file about 1% larger"},
		{Name: "decode_memory", Type: pipeline.Int, Default: 1024, Min: pipeline.Bound(1), Max: pipeline.Bound(1 << 30), NoCache: true,
			Doc: "MB the decodes in flight may hold together, estimated from each header (1 to about 40 bytes a pixel by format, colour model and layout, see docs/features.md): " +
				"a worker waits for its share before decoding; an image estimated above the whole budget decodes alone. Does not change outputs"},
		{Name: "workers", Type: pipeline.Int, Default: 0, Min: pipeline.Bound(0), Max: pipeline.Bound(1024), NoCache: true,
			Doc: "images decoded in parallel, one per worker (0 = number of CPUs; at most 1024: each worker's scratch is allocated up front)"},
	},
	Validate: func(p pipeline.Params) error {
		if len(p.Strings("parts")) == 0 {
			return pipeline.ParamError("parts", fmt.Errorf("give at least one descriptor part (the default is all: %s)", strings.Join(descriptor.Parts, ", ")))
		}
		return descriptor.Config{Parts: p.Strings("parts"), Regions: p.Int("regions")}.Validate()
	},
	Stage: pipeline.StageFunc(run),
}

// Failure is one skipped image, as listed in the manifest and the shard
// sidecars.
type Failure struct {
	ImageID int64  `json:"image_id"`
	Key     string `json:"key"`
	Path    string `json:"path"`
	Reason  string `json:"reason"`
	Error   string `json:"error"`
}

// shardStats is the sidecar written next to each shard
// (features/part-NNNNN.json): what a resumed run needs to re-declare it.
type shardStats struct {
	Rows        int64     `json:"rows"`
	Images      int64     `json:"images"`
	Failures    []Failure `json:"failures,omitempty"`
	ExtMismatch int64     `json:"extension_mismatch"`
}

// check reports whether the sidecar s describes the committed shard file
// path of images images: its image count, its rows plus failures, and the
// rows the file's footer declares must agree. Resuming from a sidecar that
// disagrees with its file would declare a features table whose row count
// is not what its files hold.
func (s shardStats) check(images int64, path string) error {
	if s.Images != images {
		return fmt.Errorf("sidecar counts %d images, the shard has %d", s.Images, images)
	}
	if s.Rows < 0 || s.Rows+int64(len(s.Failures)) != s.Images {
		return fmt.Errorf("sidecar counts %d rows and %d failures for %d images", s.Rows, len(s.Failures), s.Images)
	}
	n, err := fileRows(path)
	if err != nil {
		return err
	}
	if n != s.Rows {
		return fmt.Errorf("sidecar counts %d rows, the file holds %d", s.Rows, n)
	}
	return nil
}

// fileRows returns the number of rows the footer of the Parquet file path
// declares (a damaged footer is an error, not a panic).
func fileRows(path string) (n int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, fmt.Errorf("%s: corrupt Parquet footer: %v", path, p)
		}
	}()
	// a damaged footer can make parquet-go allocate gigabytes (a fatal
	// out of memory no recover catches): checked first
	if err := pqcheck.Footer(f, fi.Size()); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	pf, err := parquet.OpenFile(f, fi.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return pf.NumRows(), nil
}

type config struct {
	desc        descriptor.Config
	shortSide   int
	resample    string
	maxPixels   int64
	failFrac    float64
	shardRows   int
	rowGroup    int
	compression string
	codec       compress.Codec // nil: table's codec for compression
	reuse       *table.Reuse   // row-group encoders and buffers, from one shard to the next
	workers     int
	decodeMem   int64 // decode_memory in bytes
	regions     int   // boxes per image, from the descriptor config
	dim         int   // values per region
	meta        map[string]string
}

func readConfig(env *pipeline.Env) config {
	p := env.Params
	c := config{
		desc:        descriptor.Config{Parts: p.Strings("parts"), Regions: p.Int("regions")},
		shortSide:   p.Int("short_side"),
		reuse:       new(table.Reuse),
		resample:    p.String("resample"),
		maxPixels:   int64(p.Int("max_pixels")),
		failFrac:    p.Float("max_fail_fraction"),
		shardRows:   p.Int("shard_rows"),
		rowGroup:    p.Int("row_group_rows"),
		compression: p.String("compression"),
		workers:     p.Int("workers"),
		decodeMem:   int64(p.Int("decode_memory")) << 20,
	}
	if c.workers <= 0 {
		c.workers = runtime.GOMAXPROCS(0)
	}
	if c.compression == "zstd" {
		c.codec = newZstdCodec(map[string]zstd.Level{"fastest": zstd.SpeedFastest, "default": zstd.SpeedDefault,
			"better": zstd.SpeedBetterCompression, "best": zstd.SpeedBestCompression}[p.String("zstd_level")])
	}
	ex, _ := descriptor.NewExtractor(c.desc)
	c.regions, c.dim = ex.Regions(), ex.Dim()
	parts := c.desc.Selected()
	c.meta = map[string]string{
		MetaDim:       strconv.Itoa(ex.Dim()),
		MetaRegions:   strconv.Itoa(ex.Regions()),
		MetaParts:     strings.Join(parts, ","),
		MetaShortSide: strconv.Itoa(c.shortSide),
	}
	return c
}

// worker holds per-worker scratch state.
type worker struct {
	ex *descriptor.Extractor
	rs *resizer
	br *bufio.Reader
}

// result is one image's outcome within a chunk.
type result struct {
	row         table.FeatureRow
	fail        *Failure
	extMismatch bool
}

type runState struct {
	env      *pipeline.Env
	cfg      config
	art      *pipeline.Artifact
	pool     chan *worker
	budget   *decodeBudget // decode_memory, shared by the workers
	bufs     floatPool     // feature vectors, recycled once their row group is written
	total    int64
	images   int64
	rows     int64
	failed   int64
	byReason map[string]int64
	listed   []Failure
	extMis   int64
	progress pipeline.Progress
}

func run(ctx context.Context, env *pipeline.Env) error {
	files, art, err := env.InputTable(table.Images)
	if err != nil {
		return err
	}
	cfg := readConfig(env)
	if _, err := table.Codec(cfg.compression); err != nil {
		return err
	}
	st := &runState{env: env, cfg: cfg, art: art, total: art.TableRows(table.Images),
		byReason: map[string]int64{}, pool: make(chan *worker, cfg.workers),
		budget: newDecodeBudget(cfg.decodeMem)}
	// The shard writer holds at most workers+1 row groups, the stage one
	// chunk of images: that many vectors are in use at once.
	st.bufs = newFloatPool(cfg.regions*cfg.dim, int(cfg.vectorsInFlight(st.total)))
	for range cfg.workers {
		ex, err := descriptor.NewExtractor(cfg.desc)
		if err != nil {
			return err
		}
		rs, err := newResizer(cfg.resample)
		if err != nil {
			return err
		}
		st.pool <- &worker{ex: ex, rs: rs, br: bufio.NewReaderSize(nil, 64<<10)}
	}
	st.progress = env.Progress("images", st.total)
	defer st.progress.Done()

	// Stream the images table; cut it into shards of shard_rows images.
	shard := 0
	batch := make([]table.ImageRow, 0, min(int64(cfg.shardRows), max(st.total, 1)))
	flush := func() error {
		err := st.shard(ctx, shard, batch)
		shard++
		batch = batch[:0]
		return err
	}
	err = table.Scan(ctx, files, 1024, func(rows []table.ImageRow) error {
		for _, r := range rows {
			batch = append(batch, r)
			if len(batch) == cfg.shardRows {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil && (len(batch) > 0 || shard == 0) {
		err = flush()
	}
	if err != nil {
		return err
	}
	return st.finish()
}

// shardOptions are the writer options of a feature shard of up to images
// rows. Row groups are compressed on the workers' cores while the next
// images are computed, the last two sharing a partial remainder so that they
// finish together; min/max statistics of feature values and box
// coordinates serve no reader and cost a tenth of the write. Every shard
// reuses the encoders and buffers of the one before.
func (c *config) shardOptions(images int) table.Options {
	return table.Options{Compression: c.compression, Codec: c.codec, RowGroupRows: int64(c.rowGroup), Meta: c.meta,
		Workers: c.workers, NoBounds: []string{"boxes", "feats"}, ExpectedRows: int64(images), Reuse: c.reuse}
}

// vectorsInFlight is the most feature vectors in use at once while a table
// of total images is computed: the row groups the shard writer holds
// (workers+1 of them) and one chunk, but never more than the rows of one
// shard, which are all handed back by the time the shard is closed. (Not
// capped, one row group per shard and 1,024 workers on 100,000 images
// counted 102 million vectors: the pool's channel alone took 2.5 GB.)
func (c *config) vectorsInFlight(total int64) int64 {
	return min(int64(c.workers+1)*c.groupRows(total)+int64(c.chunk()), int64(c.shardRows), max(total, 1))
}

// chunk is the number of images computed between two writes: chunkRows,
// or workers when there are more, so that every worker has an image.
func (c *config) chunk() int { return max(chunkRows, c.workers) }

// groupRows is the most rows a row group of a table of total images can
// hold: a row_group_rows or shard_rows far above the table's size (asked
// for to get one row group or one shard) must not size buffers for rows
// that do not exist (shard_rows 1e9 on 7 images died allocating 64 GB).
func (c *config) groupRows(total int64) int64 {
	return min(int64(c.rowGroup), int64(c.shardRows), max(total, 1))
}

// memoryBudget estimates the stage's working set while it computes and
// writes the shard imgs (see "Memory" in docs/features.md): the feature
// vectors in flight, the row groups being filled, encoded and spliced, the
// row-group encoders' column buffers, per worker the decode of the
// shard's largest image (4 bytes a pixel covers a YCbCr decode and an RGBA
// conversion), all of them capped by decode_memory (or one such decode
// when it is larger), and per worker a resized copy.
func (c *config) memoryBudget(imgs []table.ImageRow) int64 {
	regions, dim := int64(c.regions), int64(c.dim)
	rowBytes := 16 + 4*(4*regions+regions*dim)
	rg := c.groupRows(int64(len(imgs)))
	vectors := c.vectorsInFlight(int64(len(imgs))) * 4 * regions * dim
	groups := int64(2*c.workers+1) * rg * rowBytes
	var maxPixels int64
	for _, im := range imgs {
		px := int64(im.Width) * int64(im.Height)
		if px <= 0 {
			px = 1 << 20 // size not in the images table: count 1 MP
		}
		maxPixels = max(maxPixels, px)
	}
	resized := int64(4*c.shortSide*c.shortSide) * 4 // up to 4:1 aspect
	// the decodes in flight hold at most decode_memory together, or one
	// image alone when it needs more
	decode := min(int64(c.workers)*4*maxPixels, max(c.decodeMem, 4*maxPixels)) + int64(c.workers)*resized
	return vectors + groups + decode
}

// shardName is the relative path of shard i.
func shardName(i int) string { return fmt.Sprintf("features/part-%05d.parquet", i) }

// shard computes and writes one shard, or re-declares it when an earlier
// attempt of the same run finished it.
func (st *runState) shard(ctx context.Context, i int, imgs []table.ImageRow) error {
	rel := shardName(i)
	side := strings.TrimSuffix(rel, ".parquet") + ".json"
	if st.env.ShardDone(rel) {
		b, err := os.ReadFile(st.env.Path(side))
		var s shardStats
		if err == nil {
			err = json.Unmarshal(b, &s)
		}
		if err == nil {
			err = s.check(int64(len(imgs)), st.env.Path(rel))
		}
		if err == nil {
			st.account(s)
			st.env.AddTable(table.Features, s.Rows, rel)
			st.progress.Add(int64(len(imgs)))
			st.env.Log.Info("shard already done, resumed", "shard", rel, "rows", s.Rows)
			return nil
		}
		st.env.Log.Warn("shard marked done but its sidecar is unusable or disagrees with it; recomputing", "shard", rel, "err", err)
	}
	st.env.SetMemoryBudget(st.cfg.memoryBudget(imgs))
	w, err := table.Create[table.FeatureRow](st.env.Path(rel), st.env, table.Features, st.cfg.shardOptions(len(imgs)))
	if err != nil {
		return err
	}
	defer w.Abort()
	w.OnRelease(func(rows []table.FeatureRow) {
		for i := range rows {
			st.bufs.put(rows[i].Feats)
		}
	})
	var s shardStats
	s.Images = int64(len(imgs))
	// Images are computed and handed to the writer in chunks (the writer
	// still cuts row_group_rows row groups): a small chunk keeps the live
	// feature buffers small, and one of at least workers images keeps
	// every worker busy (a chunk of one row group made row_group_rows 1
	// decode one image at a time).
	results := make([]result, min(st.cfg.chunk(), len(imgs)))
	out := make([]table.FeatureRow, 0, len(results))
	for start := 0; start < len(imgs); start += len(results) {
		chunk := imgs[start:min(start+len(results), len(imgs))]
		if err := st.compute(ctx, chunk, results[:len(chunk)]); err != nil {
			return err
		}
		out = out[:0]
		for j := range chunk {
			r := &results[j]
			if r.fail != nil {
				s.Failures = append(s.Failures, *r.fail)
				continue
			}
			if r.extMismatch {
				s.ExtMismatch++
			}
			out = append(out, r.row)
		}
		if err := w.Write(out); err != nil {
			return err
		}
		st.progress.Add(int64(len(chunk)))
		if err := st.checkFailures(s.Failures); err != nil {
			return err
		}
	}
	s.Rows = w.Rows()
	if err := w.Close(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(st.env.Path(side), b, 0o644); err != nil {
		return err
	}
	if err := st.env.CommitShard(rel, rel); err != nil {
		return err
	}
	st.account(s)
	st.env.AddTable(table.Features, s.Rows, rel)
	// Between shards nothing of the finished one is live: collect and hand
	// freed pages back to the OS, so the peak RSS of a long run stays that of
	// one shard (a few ms per shard of thousands of images).
	debug.FreeOSMemory()
	return nil
}

// checkFailures stops early once the failures of finished shards plus
// pending (those of the shard being written) can no longer stay within
// max_fail_fraction of the whole table.
func (st *runState) checkFailures(pending []Failure) error {
	if st.total > 0 && float64(st.failed+int64(len(pending))) > st.cfg.failFrac*float64(st.total) {
		return st.tooMany(pending)
	}
	return nil
}

// tooMany is the error of a stage with too many bad images: the counts by
// reason and the first failing files with their reasons.
func (st *runState) tooMany(pending []Failure) error {
	byReason := map[string]int64{}
	for r, n := range st.byReason {
		byReason[r] = n
	}
	all := append(append([]Failure(nil), st.listed...), pending...)
	for _, f := range pending {
		byReason[f.Reason]++
	}
	var reasons []string
	for _, r := range slices.Sorted(maps.Keys(byReason)) {
		reasons = append(reasons, fmt.Sprintf("%s: %d", r, byReason[r]))
	}
	var files []string
	for i, f := range all {
		if i == 5 {
			files = append(files, fmt.Sprintf("… %d more", len(all)-5))
			break
		}
		files = append(files, fmt.Sprintf("%s (%s: %s)", f.Path, f.Reason, f.Error))
	}
	return fmt.Errorf("features.regions: %d of %d images failed, more than max_fail_fraction %.4g (%s): %s",
		st.failed+int64(len(pending)), st.total, st.cfg.failFrac, strings.Join(reasons, ", "), strings.Join(files, "; "))
}

// account adds a finished shard's counts to the run totals.
func (st *runState) account(s shardStats) {
	st.images += s.Images
	st.rows += s.Rows
	st.extMis += s.ExtMismatch
	for _, f := range s.Failures {
		st.failed++
		st.byReason[f.Reason]++
		if len(st.listed) < maxListedFailures {
			st.listed = append(st.listed, f)
		}
		st.env.Log.Warn("image skipped", "image_id", f.ImageID, "key", f.Key, "reason", f.Reason, "error", f.Error)
	}
}

// compute fills results for chunk with a bounded pool, one image per worker.
func (st *runState) compute(ctx context.Context, chunk []table.ImageRow, results []result) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(st.cfg.workers)
	for j := range chunk {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			w := <-st.pool
			defer func() { st.pool <- w }()
			return st.one(gctx, w, chunk[j], &results[j])
		})
	}
	return g.Wait()
}

// one computes the features of one image into res, reusing res's slices.
// Its decode takes its memory from st.budget and gives it back once the
// image is resized; the only error is ctx's, when it is cancelled while
// waiting for the budget.
func (st *runState) one(ctx context.Context, w *worker, img table.ImageRow, res *result) error {
	path := table.ResolvePath(st.art.Dir, img.Path)
	res.fail, res.extMismatch = nil, false
	defer func() {
		// A decoder bug on hostile input must cost one image, not the run.
		if r := recover(); r != nil {
			res.fail = &Failure{ImageID: img.ImageID, Key: img.Key, Path: img.Path, Reason: ReasonCorrupt,
				Error: fmt.Sprintf("%s: decoder panicked: %v", path, r)}
		}
	}()
	d, err := loadBudget(ctx, path, st.cfg.maxPixels, w.br, st.budget)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			return err
		}
		var le *loadError
		if !errors.As(err, &le) {
			le = &loadError{reason: ReasonCorrupt, msg: err.Error()}
		}
		res.fail = &Failure{ImageID: img.ImageID, Key: img.Key, Path: img.Path, Reason: le.reason, Error: le.msg}
		return nil
	}
	defer d.release() // also when the resize or descriptors panic
	res.extMismatch = d.extMismatch
	b := d.img.Bounds()
	tw, th := targetSize(b.Dx(), b.Dy(), st.cfg.shortSide)
	small := w.rs.resize(d.img, tw, th)
	// The decoded image is no longer needed: drop it and give its memory
	// back to the budget before the descriptors (small is w's buffer).
	d.img = nil
	d.release()
	// The shard writer keeps written rows until their row group is
	// encoded (table.Options.Workers), then hands the vector back to bufs.
	boxes, feats := w.ex.Image(small, make([]float32, 0, 4*w.ex.Regions()), st.bufs.get())
	res.row = table.FeatureRow{ImageID: img.ImageID, NRegions: int32(w.ex.Regions()), Dim: int32(w.ex.Dim()),
		Boxes: boxes, Feats: feats}
	return nil
}

// floatPool recycles float32 buffers of one capacity, keeping at most keep
// of them: with a bounded number in use, a long run allocates no more
// vectors than a short one, and the heap does not swing with the garbage.
type floatPool struct {
	size int
	ch   chan []float32
}

func newFloatPool(size, keep int) floatPool {
	return floatPool{size: size, ch: make(chan []float32, keep)}
}

// get returns an empty buffer of capacity size.
func (p floatPool) get() []float32 {
	select {
	case b := <-p.ch:
		return b[:0]
	default:
		return make([]float32, 0, p.size)
	}
}

// put returns a buffer from get; others, and buffers beyond keep, are dropped.
func (p floatPool) put(b []float32) {
	if cap(b) != p.size {
		return
	}
	select {
	case p.ch <- b:
	default:
	}
}

// finish records counts and applies the failure threshold.
func (st *runState) finish() error {
	env := st.env
	env.SetInfo("images", st.images)
	env.SetInfo("rows", st.rows)
	env.SetInfo("failed", st.failed)
	env.SetInfo("failed_by_reason", st.byReason)
	env.SetInfo("failures", st.listed)
	if st.failed > int64(len(st.listed)) {
		env.SetInfo("failures_truncated", true)
	}
	env.SetInfo("extension_mismatch", st.extMis)
	env.SetInfo("dim", st.cfg.meta[MetaDim])
	env.SetInfo("regions", st.cfg.meta[MetaRegions])
	env.SetInfo("parts", st.cfg.meta[MetaParts])
	env.SetMetric("images_failed", float64(st.failed))
	if st.images > 0 && float64(st.failed) > st.cfg.failFrac*float64(st.images) {
		return st.tooMany(nil)
	}
	env.Summarize("%d images -> %d feature rows (%s regions x %s dims), %d skipped", st.images, st.rows,
		st.cfg.meta[MetaRegions], st.cfg.meta[MetaDim], st.failed)
	return nil
}
