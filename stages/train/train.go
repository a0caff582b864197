package train

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"coderflow/datasets/arrowfeat"
	"coderflow/datasets/table"
	"coderflow/internal/atomicfile"
	"coderflow/pipeline"
	coder "coderflow/train"
)

func init() {
	pipeline.Default.MustRegister(TrainSpec)
	pipeline.Default.MustRegister(EmbedSpec)
}

// TrainSpec is the train.coder stage kind.
var TrainSpec = pipeline.Spec{
	Kind: KindTrain,
	// 2: fused ops and a float32 exp in the model (train/ops.go): the
	// weights differ in the last bits from version 1's.
	// 3: products as single BLAS calls with the bias added first, stacked
	// image/text products, 4-chain row sums and SSE/AVX2 row kernels: the
	// weights differ in the last bits from version 2's.
	// 4: loss=vsepp scores the live embeddings of the batch against each
	// other (standard VSE++, gradients through both sides) instead of
	// momentum batch keys: vsepp models differ entirely from version 3's.
	// 5: the DCL weights come from the live queries' similarities (c_ij =
	// v_i . t'_j, CODER-METHOD.md section 2), computed in the loss head,
	// instead of the momentum queries': dcl models differ from version 4's.
	// Streaming mode counts the pairs with features before training (a
	// queue larger than that is capped at it, not at all train captions).
	// 6: the concept adjacency is kg.link's (kgstage.Adjacency: largest graph
	// weight per pair, scaled, plus co-occurrence), not a sum over relations.
	// 7: the bi-GRU runs its three gates' products as one and backpropagates
	// in float32 (not float64) per element: bigru models differ in the last
	// bits (mean models are unchanged).
	// 8: attention pooling (pooling=attn) normalises each image's region
	// scores by that image's own maximum (gorgonia's SoftMax used one that
	// started at image 0's, giving NaN for images far from it): attn
	// models differ (mean-pooling models are unchanged).
	// 9: a caption id repeated in the tokens table is trained on once (its
	// first row; later rows skipped, counted in info captions.duplicate),
	// not once per row, and fills one dev caption slot, not two. An image
	// with feature rows in several shards is streamed with its first row
	// in file order (as cached mode), not the first of the epoch's shard
	// order. Data without repeated ids trains as in version 8. The loader
	// info's train_images counts the images with features (new:
	// train_images_without_features).
	// 10: attention pooling leaves the padding of an image with fewer
	// regions than the first feature row out (zero padding, weight 0 in
	// the softmax, guide = mean of the real regions), where it repeated
	// the image's regions cyclically, which weighted some of them twice;
	// the guide is a product with 1/n weights (attn models differ in the
	// last bits even without padding; mean-pooling models are unchanged).
	// 11: pooling=attn with a first feature row of 1 region keeps each
	// image's first region (later images truncated and counted, as the
	// doc says), where it averaged all of an image's regions as
	// pooling=mean does (uncounted). Other data trains as in version 10.
	Version: "11",
	Doc: "Trains the CODER model (instance branch with momentum queues and the diversity-sensitive contrastive loss, " +
		"online clustering, concept branch) on (train caption, image) pairs from the features, tokens and vocab tables " +
		"(plus concepts, concept_edges and caption_concepts when concept=true). Evaluates dev Recall@K after epochs, " +
		"checkpoints every epoch (a rerun resumes from the last finished epoch) and writes model.bin (the best epoch " +
		"by dev rSum, coderflow/train.Save format) and the train_curve table.",
	Produces: []string{table.TrainCurve},
	Params:   trainParams(),
	// Plan-time check of the model switches (data shapes are placeholders).
	Validate: func(p pipeline.Params) error {
		_, err := configFromParams(p, shapes{ImageDim: 1, Regions: 1, VocabSize: 5, MaxLen: 1, Concepts: 1})
		return err
	},
	Stage: pipeline.StageFunc(runTrain),
}

// trainLogEvery is the interval of the "training" log line within epochs
// (it is also logged at the end of every epoch).
const trainLogEvery = 30 * time.Second

// afterEpoch, when set (tests), is called after epoch e is checkpointed.
var afterEpoch func(e int)

// budgetUnit is the unit of the feature_memory param (MiB); tests shrink it
// to exercise the streaming loader on tiny data.
var budgetUnit int64 = 1 << 20

// epochState is the sidecar of a checkpoint: what the curve and model
// selection need to resume.
type epochState struct {
	Row       table.CurveRow `json:"row"`
	Evaluated bool           `json:"evaluated"`
	// Features are the run's feature counts (info "features") when the
	// epoch was checkpointed: a rerun that trains no epoch (killed after
	// the last checkpoint) converts too few images to count them itself.
	// Only in the sidecar, not in StateFile.
	Features *featCounts `json:"features,omitempty"`
	// Key is the cache key of the run that wrote the record and BLAS
	// its build (coder.BLAS): a record of another key (a work directory
	// reused with other params or data) is not resumed from, one of
	// another build is resumed from with a warning (not byte-identical).
	// Only in the sidecar, not in StateFile; empty in records written
	// before they were added.
	Key  string `json:"key,omitempty"`
	BLAS string `json:"blas,omitempty"`
}

// trainState is written to StateFile at the end.
type trainState struct {
	Epochs    []epochState   `json:"epochs"`
	BestEpoch int            `json:"best_epoch"`
	BestRSum  float64        `json:"best_dev_rsum"`
	Data      map[string]any `json:"data"`
}

// curveFile is the train_curve table's file.
const curveFile = "train_curve.parquet"

// partialState is the sidecar of a checkpoint within an epoch
// (partialSide): the epoch, how many of its batches are trained and the
// running sums the epoch's curve row needs. Its checkpoint file is named
// by it, so that a kill between writing the two never pairs a sidecar with
// another checkpoint.
type partialState struct {
	Epoch   int          `json:"epoch"`
	Batches int          `json:"batches"`
	Step    int64        `json:"step"`
	Sum     coder.Losses `json:"sum"`
	Seconds float64      `json:"seconds"`
	File    string       `json:"file"`
	Key     string       `json:"key,omitempty"`  // as in epochState
	BLAS    string       `json:"blas,omitempty"` // as in epochState
}

// partialSide is the sidecar of the latest checkpoint within an epoch.
const partialSide = "ckpt/partial.json"

func partialName(e, n int) string { return fmt.Sprintf("ckpt/partial-%04d-%d.bin", e, n) }

// midCheckpointDue, when set (tests), replaces the checkpoint_minutes
// clock: it is asked after every step of epoch e (n batches trained) and
// once more before a dev evaluation (then final is true).
var midCheckpointDue func(e, n int, final bool) bool

func ckptName(e int) string  { return fmt.Sprintf("ckpt/epoch-%04d.bin", e) }
func sideName(e int) string  { return fmt.Sprintf("ckpt/epoch-%04d.json", e) }
func shardName(e int) string { return fmt.Sprintf("epoch-%d", e) }

// minDevImages is the dev set size below which the stage warns that dev
// Recall@10 cannot discriminate (every image is within the top 10).
const minDevImages = 10

func runTrain(ctx context.Context, env *pipeline.Env) error {
	p := env.Params
	if env.ShardDone(finalShard) {
		if ts, err := readState(env); err == nil {
			return publish(env, ts)
		}
	}
	epochs, batch, maxLen := p.Int("epochs"), p.Int("batch"), p.Int("max_len")
	budget := int64(p.Int("feature_memory")) * budgetUnit
	useConcept := p.Bool("concept")
	info := map[string]any{}

	// Data: vocab, captions, concepts.
	vocab, vocabFile, err := readVocabSize(ctx, env)
	if err != nil {
		return err
	}
	if err := checkWordMatrix(vocab, p.Int("word_dim"), vocabFile); err != nil {
		return err
	}
	caps, ccount, err := loadCaptions(ctx, env, maxLen,
		vocabRange{size: vocab, what: fmt.Sprintf("the vocabulary (size %d = max vocab id + 1)", vocab)}, table.SplitTrain, table.SplitDev)
	if err != nil {
		return err
	}
	info["captions"] = ccount
	if len(caps.bySplit[table.SplitTrain]) == 0 {
		return fmt.Errorf("tokens: no captions of split %q", table.SplitTrain)
	}
	var cd *conceptData
	if useConcept {
		ids := make(map[int64]bool, len(caps.caps))
		for _, c := range caps.caps {
			ids[c.id] = true
		}
		cd, err = loadConcepts(ctx, envFinder(env), envFinder(env), func(id int64) bool { return ids[id] })
		if err != nil {
			return fmt.Errorf("concept branch: %w", err)
		}
		info["concepts"] = map[string]any{"m": cd.M, "edges": cd.Counts.Edges, "edges_skipped": cd.Counts.EdgesSkipped,
			"labels_skipped": cd.Counts.LabelsSkipped, "captions_with_concepts": len(cd.labels)}
	}

	// Features: shape, then the loader mode.
	ffiles, _, err := env.InputTable(table.Features)
	if err != nil {
		return err
	}
	nReg, fdim, _, err := probeFeatures(ctx, ffiles)
	if err != nil {
		return err
	}
	shape := featShape{Regions: nReg, Dim: fdim, Data: nReg}
	if p.String("pooling") == coder.PoolMean {
		shape.Regions, shape.Mean = 1, true
	}
	fcounts := &featCounts{}
	ld := newLoader(ffiles, shape, caps, batch, maxLen, int64(p.Int("seed")), budget, cd, fcounts)
	// Dev layout: the dev images with 5 captions and a feature row (known
	// from the shards' image_id column, cheap), at most dev_images of them:
	// the images evaluated, in both loader modes.
	devFeat, err := withFeatures(ctx, ffiles, caps, table.SplitDev)
	if err != nil {
		return err
	}
	dev := caps.evalLayout(table.SplitDev, func(id int64) bool { return devFeat[id] }, p.Int("dev_images"))
	devImgs := int64(len(dev.images))
	var devCache map[int64]imgFeats
	if devImgs > 0 && devImgs*ld.imageBytes() <= budget/4 {
		devCache = map[int64]imgFeats{}
	}
	devSet := make(map[int64]bool, len(dev.images))
	for _, id := range dev.images {
		devSet[id] = true
	}
	cached := ld.fits()
	if cached {
		ld.cache = map[int64]imgFeats{}
	}
	if cached || devCache != nil {
		start := time.Now()
		err := eachFeature(ctx, ffiles, readerOptions(budget), func(r featRow) error {
			if cached {
				if err := ld.fill(r); err != nil {
					return err
				}
			}
			if devCache != nil && devSet[r.id] {
				if _, ok := devCache[r.id]; !ok {
					f, err := shape.convert(r, make([]float32, shape.floats()), fcounts)
					if err != nil {
						return err
					}
					devCache[r.id] = f
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		env.Log.Info("features loaded", "train_images", len(ld.cache), "dev_images", len(devCache),
			"seconds", time.Since(start).Seconds())
	}
	var pairs, images int // those with a feature row
	if cached {
		pairs, images = len(ld.cachedPairs()), len(ld.cache)
	} else if pairs, err = ld.featurePairs(ctx); err != nil {
		return err
	} else {
		images = ld.nImages
	}
	info["train_captions_without_features"] = ld.pairs() - pairs
	info["train_images_without_features"] = len(ld.byImg) - images
	if pairs < batch {
		if n := ld.pairs(); n > pairs {
			return fmt.Errorf("only %d of the %d training captions have image features, fewer than one batch of %d", pairs, n, batch)
		}
		return fmt.Errorf("only %d training pairs, fewer than one batch of %d", pairs, batch)
	}
	mode := "streaming"
	if cached {
		mode = "cached"
	}
	info["loader"] = map[string]any{"mode": mode, "train_pairs": pairs, "train_images": images,
		"image_floats": shape.floats(), "data_regions": nReg, "feature_dim": fdim, "batches_per_epoch": pairs / batch}

	info["dev"] = map[string]any{"images": len(dev.images), "images_fewer_than_5_captions": dev.ImagesDropped,
		"captions_beyond_5": dev.CaptionsDropped, "images_without_features": dev.NoFeatures}
	if dev.NoFeatures > 0 {
		env.Log.Warn("dev images without features", "n", dev.NoFeatures, "example", dev.noFeatureID,
			"evaluated", len(dev.images))
	}
	if len(dev.images) == 0 {
		env.Log.Warn("no dev images with 5 captions: model selection falls back to the last epoch")
	} else if len(dev.images) < minDevImages {
		// with fewer than 10 images every caption's image is in its top 10:
		// R@10 is 100 by construction and the rSum that picks the best
		// epoch says little
		env.Log.Warn("few dev images: R@10 is 100 by construction and the dev rSum is a weak model selector",
			"dev_images", len(dev.images), "want_at_least", minDevImages)
		info["dev_warning"] = fmt.Sprintf("only %d dev images: R@10 is 100 by construction", len(dev.images))
	}

	// Model config.
	sh := shapes{ImageDim: fdim, Regions: shape.Regions, VocabSize: vocab, MaxLen: maxLen}
	if cd != nil {
		sh.Concepts = cd.M
	}
	cfg, err := configFromParams(p, sh)
	if err != nil {
		return err
	}
	if cfg.Queue > pairs {
		info["queue_capped"] = map[string]int{"asked": cfg.Queue, "used": pairs}
		cfg.Queue = pairs
	}
	var adj []float32
	if cd != nil {
		adj = cd.adj
	}

	// Resume.
	nb := int64(pairs / batch) // an epoch's batches (exact in both modes)
	var states []epochState
	var rejected []int
	last := 0
	for e := 1; e <= epochs && env.ShardDone(shardName(e)); e++ {
		st, err := readSide(env.Path(sideName(e)))
		if err == nil && st.Row.Epoch != int32(e) {
			err = fmt.Errorf("%s: holds epoch %d", sideName(e), st.Row.Epoch)
		}
		if err == nil {
			err = otherRun(env, sideName(e), st.Key)
		}
		if want := int64(e) * nb; err == nil && st.Row.Step != want {
			// every epoch is nb batches: another batch size or data
			err = fmt.Errorf("%s: epoch %d ends at step %d, in this run at step %d (%d batches per epoch)", sideName(e), e, st.Row.Step, want, nb)
		}
		if err != nil {
			env.Log.Warn("epoch record unusable, resuming before it", "epoch", e, "err", err)
			rejected = append(rejected, e)
			break
		}
		states = append(states, st)
		last = e
	}
	// A checkpoint that does not load (truncated, corrupted, not a
	// checkpoint) or holds another config than this run's is never trained
	// on: resume falls back to the previous epoch, down to a fresh start.
	var m *coder.Model
	for last > 0 {
		if _, serr := os.Stat(env.Path(ckptName(last))); os.IsNotExist(serr) && !slices.Contains(rejected, last) {
			// pruned (pruneCheckpoints): an earlier kept checkpoint
			// continues with the same result
			env.Log.Info("checkpoint pruned, resuming from an earlier epoch", "epoch", last)
			last--
			states = states[:last]
			continue
		}
		m, err = loadModel(env.Path(ckptName(last)), adj)
		if err == nil {
			if err = configMismatch(ckptName(last), m.Config(), cfg); err != nil {
				m.Close()
				m = nil
			}
		}
		if want := states[last-1].Row.Step; err == nil && m.Steps() != want {
			err = fmt.Errorf("%s: holds the model after step %d, its epoch record says %d", ckptName(last), m.Steps(), want)
			m.Close()
			m = nil
		}
		if err == nil {
			break
		}
		env.Log.Warn("checkpoint unusable, falling back to the previous epoch", "epoch", last, "err", err)
		rejected = append(rejected, last)
		last--
		states = states[:last]
	}
	if len(rejected) > 0 {
		info["checkpoints_rejected"] = rejected
	}
	if m != nil {
		env.Log.Info("resuming", "after_epoch", last, "of", epochs)
		info["resumed_after_epoch"] = last
	} else {
		if len(rejected) > 0 {
			env.Log.Warn("no usable checkpoint: training starts over from epoch 1")
		}
		m, err = coder.NewModel(cfg, adj)
		if err != nil {
			return err
		}
	}
	defer func() { m.Close() }()

	// A checkpoint within epoch last+1, if it loads and matches: its
	// batches are skipped (the epoch's batches are built again in the same
	// order, and only the rest are trained).
	step := int64(0)
	if len(states) > 0 {
		step = states[len(states)-1].Row.Step
	}
	var part *partialState
	if last < epochs {
		if ps, pm := loadPartial(env, last+1, step, nb, cfg, adj); pm != nil {
			m.Close()
			m, part = pm, ps
			env.Log.Info("resuming within an epoch", "epoch", ps.Epoch, "after_batch", ps.Batches)
			info["resumed_in_epoch"] = map[string]int{"epoch": ps.Epoch, "batches": ps.Batches}
		}
	}

	// The training mixes BLAS builds (the checkpoints resumed from were
	// written by another one, and this run trains on, or they mix builds
	// themselves): it continues correctly, but the matrix products round
	// differently, so the result is not byte-identical to an uninterrupted
	// run of either build.
	builds := recordBLAS(states, part)
	if last < epochs && !slices.Contains(builds, coder.BLAS) {
		builds = append(builds, coder.BLAS) // this run trains
	}
	if len(builds) > 1 {
		blas := slices.DeleteFunc(slices.Clone(builds), func(b string) bool { return b == coder.BLAS })
		env.Log.Warn("resuming training checkpointed by another BLAS build: the result is not byte-identical to an uninterrupted run",
			"checkpointed_with", blas, "this_build", coder.BLAS)
		info["resumed_from_blas"] = blas
	}

	// Loop.
	if part != nil {
		step = part.Step
	}
	every := time.Duration(p.Int("checkpoint_minutes")) * time.Minute
	lastCkpt := time.Now()
	due := func(e, n int, final bool) bool {
		if midCheckpointDue != nil {
			return midCheckpointDue(e, n, final)
		}
		return every > 0 && time.Since(lastCkpt) >= every
	}
	// Progress counts the batches this run trains only (a resumed run's
	// rate and ETA are not inflated by the epochs, nor by the batches of a
	// checkpoint within an epoch, that it skips). nb is exact in both
	// modes (an epoch yields floor(pairs/batch) batches); the total is
	// still corrected should an epoch yield another count.
	total := int64(epochs-last) * nb
	if part != nil {
		total -= int64(part.Batches)
	}
	prog := env.Progress("batches", total)
	defer prog.Done()
	ropt := readerOptions(budget)
	lrs := lrStep(p)
	ahead := p.Int("workers")
	if ahead == 0 {
		ahead = 2
	}
	t0 := time.Now()
	doneSteps := int64(0)
	// The feature counts (info "features") count each image once, as the
	// cached setup pass does: streamed epochs and evaluations convert the
	// same images again, so only the first of each in this run counts
	// (resumed and uninterrupted runs report the same).
	evalCounts := fcounts
	// The "training" line: every trainLogEvery across epochs and at the end
	// of every epoch (with its mean loss terms).
	lastLog := time.Now()
	logTraining := func(e, n int, sum coder.Losses) {
		lastLog = time.Now()
		rate := float64(doneSteps) / time.Since(t0).Seconds()
		eta := "unknown" // no step trained yet in this run (resumed)
		if rate > 0 {
			left := float64(int64(epochs-e)*nb+max(nb-int64(n), 0)) / rate
			eta = (time.Duration(left) * time.Second).String()
		}
		env.Log.Info("training", "epoch", e, "step", step, "steps_per_s", round(rate, 3), "loss", round(sum.Total/float64(n), 4),
			"inst", round(sum.Inst/float64(n), 4), "concept", round(sum.Concept/float64(n), 4),
			"pred", round(sum.Pred/float64(n), 4), "swap", round(sum.Swap/float64(n), 4),
			"eta", eta)
	}
	hint := "lower lr or enable clip"
	if cfg.ClipNorm > 0 {
		hint = "lower lr or clip"
	}
	for e := last + 1; e <= epochs; e++ {
		lr := learningRate(cfg.LR, lrs, e)
		var sum coder.Losses
		n, skip := 0, 0
		estart := time.Now()
		if part != nil && part.Epoch == e {
			sum, n, skip = part.Sum, part.Batches, part.Batches
			estart = estart.Add(-time.Duration(part.Seconds * float64(time.Second)))
		}
		saved := n // batches of this epoch in the latest checkpoint
		err := ld.epochPrefetch(ctx, e, ahead, func(b *coder.Batch) error {
			if skip > 0 { // trained before the partial checkpoint
				skip--
				return nil
			}
			ls, err := m.Step(b, lr)
			// Step stops before the update at a NaN or infinite loss and
			// returns the losses with its error. The features are checked
			// when they are read, so the inputs were finite.
			if math.IsNaN(ls.Total) || math.IsInf(ls.Total, 0) {
				return fmt.Errorf("epoch %d step %d: loss is %v (%s)", e, step+1, ls.Total, hint)
			}
			if err != nil {
				return fmt.Errorf("epoch %d step %d: %w", e, step+1, err)
			}
			sum.Total += ls.Total
			sum.Inst += ls.Inst
			sum.Concept += ls.Concept
			sum.Pred += ls.Pred
			sum.Swap += ls.Swap
			n++
			step++
			doneSteps++
			prog.Add(1)
			if time.Since(lastLog) > trainLogEvery {
				logTraining(e, n, sum)
			}
			if due(e, n, false) {
				if err := checkpointPartial(env, m, partialState{Epoch: e, Batches: n, Step: step, Sum: sum,
					Seconds: time.Since(estart).Seconds()}); err != nil {
					return err
				}
				lastCkpt, saved = time.Now(), n
			}
			return nil
		})
		if err != nil {
			return err
		}
		if skip > 0 {
			return fmt.Errorf("epoch %d: the checkpoint within it counts %d batches, but the epoch has only %d", e, part.Batches, part.Batches-skip)
		}
		if n == 0 {
			return fmt.Errorf("epoch %d produced no batches: fewer than one batch of %d of the %d training captions have image features", e, batch, pairs)
		}
		ld.counts = &featCounts{}
		if int64(n) != nb {
			nb = int64(n)
			prog.SetTotal(doneSteps + int64(epochs-e)*nb)
		}
		logTraining(e, n, sum)
		fn := float64(n)
		row := table.CurveRow{Epoch: int32(e), Step: step, LR: lr, Loss: sum.Total / fn, LossInst: sum.Inst / fn,
			LossConcept: sum.Concept / fn, LossPred: sum.Pred / fn, LossSwap: sum.Swap / fn}
		st := epochState{Row: row}
		if len(dev.images) > 0 && (e%p.Int("dev_every") == 0 || e == epochs) {
			// a long dev evaluation would lose the epoch's training if killed
			if saved < n && due(e, n, true) {
				if err := checkpointPartial(env, m, partialState{Epoch: e, Batches: n, Step: step, Sum: sum,
					Seconds: time.Since(estart).Seconds()}); err != nil {
					return err
				}
				lastCkpt = time.Now()
			}
			res, err := evaluate(ctx, m, shape, dev, caps, cd, devCache, ffiles, ropt, batch, maxLen, evalCounts)
			if err != nil {
				return fmt.Errorf("epoch %d: dev evaluation: %w", e, err)
			}
			r := res.Mean
			st.Row.DevR1I2T, st.Row.DevR5I2T, st.Row.DevR10I2T = r.R1I2T, r.R5I2T, r.R10I2T
			st.Row.DevR1T2I, st.Row.DevR5T2I, st.Row.DevR10T2I = r.R1T2I, r.R5T2I, r.R10T2I
			st.Row.DevRSum = r.RSum
			st.Evaluated = true
			evalCounts = &featCounts{}
		}
		st.Row.Seconds = time.Since(estart).Seconds()
		fc := *fcounts
		st.Features = &fc
		env.Log.Info("epoch done", "epoch", e, "loss", round(st.Row.Loss, 4), "dev_rsum", round(st.Row.DevRSum, 2),
			"seconds", round(st.Row.Seconds, 1))
		if err := checkpoint(env, m, e, st); err != nil {
			return err
		}
		lastCkpt = time.Now()
		removePartial(env)
		states = append(states, st)
		if !p.Bool("keep_checkpoints") {
			if err := pruneCheckpoints(env, states); err != nil {
				return err
			}
		}
		if afterEpoch != nil {
			afterEpoch(e)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	// a kill between the last epoch's checkpoint and the removal of its
	// checkpoint within the epoch leaves that one: not for the artifact
	removePartial(env)
	info["features"] = fcounts
	if last == epochs && states[last-1].Features != nil {
		// this run trained no epoch: the counts of the run that did
		info["features"] = states[last-1].Features
	}
	return finish(env, m.Config(), adj, states, info)
}

// withFeatures returns the images of split in cs that have a feature row,
// reading only the shards' image_id column.
func withFeatures(ctx context.Context, files []string, cs *captionSet, split string) (map[int64]bool, error) {
	idx := cs.bySplit[split]
	if len(idx) == 0 {
		return nil, nil
	}
	want := make(map[int64]bool, len(idx)/5+1)
	for _, i := range idx {
		want[cs.caps[i].image] = true
	}
	has := make(map[int64]bool, len(want))
	err := arrowfeat.ImageIDs(ctx, files, func(id int64) error {
		if want[id] {
			has[id] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	return has, nil
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// checkpoint writes the sidecar, then the checkpoint, then commits the epoch.
func checkpoint(env *pipeline.Env, m *coder.Model, e int, st epochState) error {
	st.Key, st.BLAS = env.Key, coder.BLAS
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(env.Path(sideName(e)), b, 0o644); err != nil {
		return err
	}
	if err := saveModel(env.Path(ckptName(e)), m); err != nil {
		return fmt.Errorf("checkpoint epoch %d: %w", e, err)
	}
	return env.CommitShard(shardName(e), ckptName(e))
}

// saveModel writes m's checkpoint to path atomically.
func saveModel(path string, m *coder.Model) error {
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	w := bufio.NewWriterSize(f, 1<<20)
	if err := m.Save(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Commit()
}

func readSide(path string) (epochState, error) {
	var st epochState
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

func loadModel(path string, adj []float32) (*coder.Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := coder.Load(bufio.NewReaderSize(f, 1<<20), adj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// checkpointPartial writes a checkpoint within an epoch: the model to its
// own file, then the sidecar naming it (both atomic), then removes the
// previous one. A kill at any point leaves the previous pair or the new
// one usable.
func checkpointPartial(env *pipeline.Env, m *coder.Model, ps partialState) error {
	ps.File = partialName(ps.Epoch, ps.Batches)
	ps.Key, ps.BLAS = env.Key, coder.BLAS
	prev, _ := readPartial(env)
	if err := saveModel(env.Path(ps.File), m); err != nil {
		return fmt.Errorf("checkpoint in epoch %d: %w", ps.Epoch, err)
	}
	b, err := json.Marshal(ps)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(env.Path(partialSide), b, 0o644); err != nil {
		return err
	}
	if prev != nil && prev.File != ps.File {
		os.Remove(env.Path(prev.File))
	}
	env.Log.Info("checkpoint within the epoch", "epoch", ps.Epoch, "batches", ps.Batches)
	return nil
}

// readPartial reads the sidecar of the checkpoint within an epoch, if any.
func readPartial(env *pipeline.Env) (*partialState, error) {
	b, err := os.ReadFile(env.Path(partialSide))
	if err != nil {
		return nil, err
	}
	var ps partialState
	if err := json.Unmarshal(b, &ps); err != nil {
		return nil, fmt.Errorf("%s: %w", partialSide, err)
	}
	if ps.File != partialName(ps.Epoch, ps.Batches) || ps.Batches <= 0 {
		return nil, fmt.Errorf("%s: inconsistent (%+v)", partialSide, ps)
	}
	return &ps, nil
}

// loadPartial returns the checkpoint within epoch e and its sidecar, when
// there is one that loads, holds this run's config and fits the epoch
// (base: the step before epoch e, nb: batches per epoch); a damaged one is
// logged and removed (the epoch then starts from its beginning). One of an
// earlier, finished epoch (a kill between the epoch's checkpoint and its
// removal) is removed quietly.
func loadPartial(env *pipeline.Env, e int, base, nb int64, cfg coder.Config, adj []float32) (*partialState, *coder.Model) {
	ps, err := readPartial(env)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err == nil && ps.Epoch < e && otherRun(env, partialSide, ps.Key) == nil {
		env.Log.Info("removing the checkpoint within a finished epoch", "epoch", ps.Epoch, "batches", ps.Batches)
		removePartial(env)
		return nil, nil
	}
	var m *coder.Model
	if err == nil {
		err = otherRun(env, partialSide, ps.Key)
	}
	if err == nil && ps.Epoch != e {
		err = fmt.Errorf("%s: it is in epoch %d, the run resumes at epoch %d", partialSide, ps.Epoch, e)
	}
	if err == nil && (int64(ps.Batches) > nb || ps.Step != base+int64(ps.Batches)) {
		err = fmt.Errorf("%s: %d batches of epoch %d ending at step %d do not fit this run (%d batches per epoch, epoch %d starts after step %d)",
			partialSide, ps.Batches, e, ps.Step, nb, e, base)
	}
	if err == nil {
		m, err = loadModel(env.Path(ps.File), adj)
		if err == nil {
			if err = configMismatch(ps.File, m.Config(), cfg); err != nil {
				m.Close()
				m = nil
			}
		}
		if err == nil && m.Steps() != ps.Step {
			err = fmt.Errorf("%s: holds the model after step %d, its sidecar says %d", ps.File, m.Steps(), ps.Step)
			m.Close()
			m = nil
		}
	}
	if err != nil {
		env.Log.Warn("checkpoint within an epoch unusable, the epoch starts over", "err", err)
		removePartial(env)
		return nil, nil
	}
	return ps, m
}

// configMismatch returns nil when a checkpoint's config (file: its name
// for the message) is this run's, else an error naming the file and every
// differing field ([configDiff]).
func configMismatch(file string, ck, run coder.Config) error {
	if ck == run {
		return nil
	}
	return fmt.Errorf("%s: its model config differs from this run's: %s", file, configDiff(ck, run))
}

// configDiff lists the fields in which a checkpoint's config ck differs
// from this run's, "Dim 64 (this run 128), Queue ...", in field order; ""
// when they are equal.
func configDiff(ck, run coder.Config) string {
	a, b := reflect.ValueOf(ck), reflect.ValueOf(run)
	var out []string
	for i := range a.NumField() {
		x, y := a.Field(i).Interface(), b.Field(i).Interface()
		if x == y {
			continue
		}
		f := "%v (this run %v)"
		if a.Field(i).Kind() == reflect.String {
			f = "%q (this run %q)"
		}
		out = append(out, a.Type().Field(i).Name+" "+fmt.Sprintf(f, x, y))
	}
	return strings.Join(out, ", ")
}

// recordBLAS returns the BLAS builds named by the epoch records and the
// checkpoint within an epoch, each once, in order.
func recordBLAS(states []epochState, part *partialState) []string {
	var out []string
	add := func(b string) {
		if b != "" && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	for _, st := range states {
		add(st.BLAS)
	}
	if part != nil {
		add(part.BLAS)
	}
	return out
}

// otherRun returns an error when key (of a record read from file) is not
// this run's cache key. The engine names a work directory by its key, so
// this only happens to a directory reused with other params or data
// (pipeline.RunStandalone, tools); such records are not resumed from.
// Records without a key (written before keys were recorded) pass.
func otherRun(env *pipeline.Env, file, key string) error {
	if key != "" && env.Key != "" && key != env.Key {
		return fmt.Errorf("%s: written by a run with another cache key (%s, this run's is %s): other params or data", file, key, env.Key)
	}
	return nil
}

// removePartial removes the checkpoints within an epoch.
func removePartial(env *pipeline.Env) {
	os.Remove(env.Path(partialSide))
	old, _ := filepath.Glob(filepath.Join(env.Dir, "ckpt", "partial-*.bin"))
	for _, f := range old {
		os.Remove(f)
	}
}

// finish picks the best epoch, writes model.bin, the curve table, the state
// file and the metrics, and removes the other checkpoints.
func finish(env *pipeline.Env, cfg coder.Config, adj []float32, states []epochState, info map[string]any) error {
	if len(states) == 0 {
		return errors.New("no finished epoch")
	}
	best, bestRSum := bestEpoch(states)
	// The best epoch's checkpoint was written by this or an earlier
	// attempt and not read since: a damaged one is removed (its epoch is no
	// longer done, so the rerun retrains from the epoch before it, with the
	// same result) rather than published as model.bin.
	bm, err := loadModel(env.Path(ckptName(best)), adj)
	if err == nil {
		err = configMismatch(ckptName(best), bm.Config(), cfg)
	}
	if bm != nil {
		bm.Close()
	}
	if err != nil {
		if rerr := os.Remove(env.Path(ckptName(best))); rerr != nil && !os.IsNotExist(rerr) {
			return fmt.Errorf("checkpoint of the best epoch %d is unusable (%w); removing it: %v", best, err, rerr)
		}
		return fmt.Errorf("checkpoint of the best epoch %d is unusable and was removed: rerun to retrain it from the last checkpoint before it: %w", best, err)
	}
	if err := copyFile(env.Path(ckptName(best)), env.Path(ModelFile)); err != nil {
		return fmt.Errorf("model.bin: %w", err)
	}
	cb, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(env.Path(ModelConfigFile), cb, 0o644); err != nil {
		return err
	}
	rows := make([]table.CurveRow, len(states))
	for i, st := range states {
		rows[i] = st.Row
	}
	if err := table.WriteFile(env.Path(curveFile), env, table.TrainCurve, table.Options{}, rows); err != nil {
		return err
	}
	eps := make([]epochState, len(states))
	for i, st := range states {
		st.Features = nil // in info["features"]
		st.Key, st.BLAS = "", ""
		eps[i] = st
	}
	ts := trainState{Epochs: eps, BestEpoch: best, BestRSum: bestRSum, Data: info}
	b, err := json.MarshalIndent(ts, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(env.Path(StateFile), b, 0o644); err != nil {
		return err
	}
	if err := env.CommitShard(finalShard, StateFile); err != nil {
		return err
	}
	return publish(env, &ts)
}

// bestEpoch returns the best epoch of states by dev rSum (ties: the
// earlier, see [betterRSum]) and its rSum; without an evaluated epoch, the
// last epoch and 0.
func bestEpoch(states []epochState) (int, float64) {
	best, bestRSum := len(states), math.Inf(-1)
	evaluated := false
	for _, st := range states {
		r := st.Row.DevRSum
		if st.Evaluated && (evaluated && betterRSum(r, bestRSum) || !evaluated && r > bestRSum) {
			best, bestRSum, evaluated = int(st.Row.Epoch), r, true
		}
	}
	if !evaluated {
		bestRSum = 0
	}
	return best, bestRSum
}

// pruneCheckpoints removes the checkpoints of the finished epochs (states)
// that neither a resume (the last epoch's) nor model.bin (the best epoch's
// so far: later epochs can only replace it) can need, so that disk use does
// not grow with the number of epochs. A pruned epoch's shard is committed
// again with its sidecar as its file first, so it stays done; a resume
// whose last checkpoint does not load falls back through the pruned epochs
// to the best one kept (or a fresh start), with the same result.
func pruneCheckpoints(env *pipeline.Env, states []epochState) error {
	best, _ := bestEpoch(states)
	last := len(states)
	for e := 1; e < last; e++ {
		if e == best {
			continue
		}
		ck := env.Path(ckptName(e))
		if _, err := os.Stat(ck); err != nil {
			continue // pruned before, or never written by this attempt
		}
		if err := env.CommitShard(shardName(e), sideName(e)); err != nil {
			return err
		}
		if err := os.Remove(ck); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("prune %s: %w", ckptName(e), err)
		}
	}
	return nil
}

// betterRSum reports whether rSum a beats b by more than rounding: equal
// hit counts summed in another order differ in the last bits (399.98 as
// 399.97999999999996 or 399.98000000000002), and such a tie goes to the
// earlier epoch. One hit changes an rSum by at least 100/(5N) for N
// evaluated images (0.0008 for N = 25,000), far above the 1e-9 relative
// tolerance.
func betterRSum(a, b float64) bool {
	return a-b > 1e-9*max(1, math.Abs(b))
}

// finalShard marks that model.bin, the curve and the state file are written:
// a rerun only redoes [publish].
const finalShard = "final"

// publish removes the epoch checkpoints (unless kept) and declares the
// table, infos and metrics from the state file's content.
func publish(env *pipeline.Env, ts *trainState) error {
	if !env.Params.Bool("keep_checkpoints") {
		if err := os.RemoveAll(filepath.Join(env.Dir, "ckpt")); err != nil {
			return err
		}
	}
	env.AddTable(table.TrainCurve, int64(len(ts.Epochs)), curveFile)
	for k, v := range ts.Data {
		env.SetInfo(k, v)
	}
	best := ts.BestEpoch
	env.SetInfo("best_epoch", best)
	lastRow := ts.Epochs[len(ts.Epochs)-1].Row
	env.SetMetric("best_dev_rsum", ts.BestRSum)
	env.SetMetric("best_epoch", float64(best))
	env.SetMetric("final_loss", lastRow.Loss)
	env.SetMetric("final_loss_inst", lastRow.LossInst)
	env.SetMetric("final_loss_concept", lastRow.LossConcept)
	env.SetMetric("final_loss_pred", lastRow.LossPred)
	env.SetMetric("final_loss_swap", lastRow.LossSwap)
	br := ts.Epochs[best-1].Row
	for name, v := range map[string]float64{"best_dev_r1_i2t": br.DevR1I2T, "best_dev_r5_i2t": br.DevR5I2T,
		"best_dev_r10_i2t": br.DevR10I2T, "best_dev_r1_t2i": br.DevR1T2I, "best_dev_r5_t2i": br.DevR5T2I, "best_dev_r10_t2i": br.DevR10T2I} {
		env.SetMetric(name, v)
	}
	epochs := "epochs"
	if len(ts.Epochs) == 1 {
		epochs = "epoch"
	}
	env.Summarize("%d %s, best epoch %d (dev rSum %.1f), final loss %.4f", len(ts.Epochs), epochs, best, ts.BestRSum, lastRow.Loss)
	return nil
}

// readModelConfig reads the JSON copy of a model's config.
func readModelConfig(path string) (coder.Config, error) {
	var c coder.Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// readState reads the state file of a finished run.
func readState(env *pipeline.Env) (*trainState, error) {
	b, err := os.ReadFile(env.Path(StateFile))
	if err != nil {
		return nil, err
	}
	var ts trainState
	if err := json.Unmarshal(b, &ts); err != nil {
		return nil, fmt.Errorf("%s: %w", StateFile, err)
	}
	if len(ts.Epochs) == 0 || ts.BestEpoch < 1 || ts.BestEpoch > len(ts.Epochs) {
		return nil, fmt.Errorf("%s: no epochs", StateFile)
	}
	return &ts, nil
}

// copyFile copies src to dst atomically.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := atomicfile.Create(dst)
	if err != nil {
		return err
	}
	defer out.Abort()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	return out.Commit()
}
