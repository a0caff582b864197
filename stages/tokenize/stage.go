package tokenize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"golang.org/x/sync/errgroup"

	"coderflow/datasets/table"
	"coderflow/internal/atomicfile"
	"coderflow/pipeline"
)

// Param names and defaults of the tokenize stage.
const (
	ParamMinCount    = "min_count"
	ParamMaxLen      = "max_len"
	ParamVocabSplits = "vocab_splits"
	ParamShardRows   = "shard_rows"
	ParamCompression = "compression"
	ParamWorkers     = "workers"

	DefaultMinCount  = 4
	DefaultMaxLen    = 64
	DefaultShardRows = 100_000
)

// VocabFile is the vocab table's file inside a tokenize artifact.
const VocabFile = "vocab.parquet"

// ShardFile returns the file of tokens shard i inside a tokenize artifact.
func ShardFile(i int) string { return fmt.Sprintf("tokens/part-%05d.parquet", i) }

// statsDir holds per-shard statistics while the stage runs, so a resumed run
// can report totals without rereading finished shards. It is removed before
// the stage returns.
const statsDir = ".tokenize-stats"

// scanBatch is the number of captions read and processed as one unit.
const scanBatch = 1024

func init() { pipeline.Default.MustRegister(Spec) }

// Spec declares the tokenize stage kind.
var Spec = pipeline.Spec{
	Kind: "tokenize",
	// 2: a sentence after the first starts at its first token, as in
	// Punkt: a '"' opening it after a newline or tab becomes `` (it was '').
	// 3: the text is put in NFC again after lower-casing, which can leave
	// NFC ("J\u030c" gives "j\u030c", now U+01F0 as for a small "ǰ");
	// sentences are cut where Punkt cuts them (no end after "dog.”", an
	// end in "dog.(the", closing brackets after the space moved back), and
	// the decision is about Punkt's token before the mark ("'a." is no
	// initial).
	Version: "3",
	Doc: "Tokenizes the nearest upstream captions table like SCAN (NLTK word_tokenize of the " +
		"lower-cased, NFC-normalised caption), builds the vocabulary from the training captions only " +
		"(<pad>=0 <start>=1 <end>=2 <unk>=3, then count desc, token asc) and writes the vocab table " +
		"and the tokens table (ids without <start>/<end>, truncated to max_len), sharded and resumable.",
	Produces: []string{table.Tokens, table.Vocab},
	Params: []pipeline.Param{
		{Name: ParamMinCount, Type: pipeline.Int, Default: DefaultMinCount, Min: pipeline.Bound(1),
			Doc: "keep tokens seen at least this many times in the vocabulary captions (SCAN: 4)"},
		{Name: ParamMaxLen, Type: pipeline.Int, Default: DefaultMaxLen, Min: pipeline.Bound(1),
			Doc: "truncate longer captions to this many tokens (counted in info.truncated)"},
		{Name: ParamVocabSplits, Type: pipeline.StringList, Default: []string{table.SplitTrain, table.SplitRestval},
			Doc: "splits whose captions build the vocabulary: training splits only (dev/test would leak)"},
		{Name: ParamShardRows, Type: pipeline.Int, Default: DefaultShardRows, Min: pipeline.Bound(1),
			Doc: "captions per tokens/part-NNNNN.parquet shard (the unit of resume)"},
		{Name: ParamCompression, Type: pipeline.String, Default: "zstd", Enum: table.Compressions,
			Doc: "Parquet compression of the output"},
		{Name: ParamWorkers, Type: pipeline.Int, Default: 0, Min: pipeline.Bound(0), Max: pipeline.Bound(1024), NoCache: true,
			Doc: "tokenizing goroutines; 0 = number of CPUs (at most 1024: the job queues are sized by it)"},
	},
	Validate: validate,
	Stage:    pipeline.StageFunc(run),
}

func validate(p pipeline.Params) error {
	splits := p.Strings(ParamVocabSplits)
	if len(splits) == 0 {
		return pipeline.ParamError(ParamVocabSplits, errors.New("at least one split is needed"))
	}
	var errs []error
	for _, s := range splits {
		switch s {
		case table.SplitDev, table.SplitTest, table.SplitTestAll:
			errs = append(errs, pipeline.ParamError(ParamVocabSplits, fmt.Errorf("%q is an evaluation split: a vocabulary built from it leaks test words into training", s)))
		}
	}
	return errors.Join(errs...)
}

// stats are the counts the stage reports in its manifest info, per shard
// and in total.
type stats struct {
	Captions       int64            `json:"captions"`
	BySplit        map[string]int64 `json:"captions_by_split"`
	Tokens         int64            `json:"tokens"`      // before truncation
	TokensKept     int64            `json:"tokens_kept"` // after truncation
	Unk            int64            `json:"unk_tokens"`  // among the kept tokens
	UnkBySplit     map[string]int64 `json:"unk_by_split"`
	KeptBySplit    map[string]int64 `json:"tokens_kept_by_split"`
	Truncated      int64            `json:"truncated"`
	Empty          int64            `json:"empty_captions"`
	InvalidUTF8    int64            `json:"invalid_utf8_captions"`
	InvalidBytes   int64            `json:"invalid_utf8_bytes"`
	MaxTokens      int64            `json:"max_tokens"` // longest caption before truncation
	FirstEmptyID   int64            `json:"first_empty_caption_id"`
	FirstInvalidID int64            `json:"first_invalid_caption_id"`
}

func newStats() *stats {
	return &stats{BySplit: map[string]int64{}, UnkBySplit: map[string]int64{}, KeptBySplit: map[string]int64{},
		FirstEmptyID: -1, FirstInvalidID: -1}
}

// add adds o's counts to s. o must cover captions that come after s's in
// caption order: the first empty and invalid ids of s win when set.
func (s *stats) add(o *stats) {
	s.Captions += o.Captions
	s.Tokens += o.Tokens
	s.TokensKept += o.TokensKept
	s.Unk += o.Unk
	s.Truncated += o.Truncated
	s.Empty += o.Empty
	s.InvalidUTF8 += o.InvalidUTF8
	s.InvalidBytes += o.InvalidBytes
	s.MaxTokens = max(s.MaxTokens, o.MaxTokens)
	for k, v := range o.BySplit {
		s.BySplit[k] += v
	}
	for k, v := range o.UnkBySplit {
		s.UnkBySplit[k] += v
	}
	for k, v := range o.KeptBySplit {
		s.KeptBySplit[k] += v
	}
	if s.FirstEmptyID < 0 {
		s.FirstEmptyID = o.FirstEmptyID
	}
	if s.FirstInvalidID < 0 {
		s.FirstInvalidID = o.FirstInvalidID
	}
}

func run(ctx context.Context, env *pipeline.Env) error {
	p := env.Params
	minCount, maxLen, shardRows := p.Int(ParamMinCount), p.Int(ParamMaxLen), int64(p.Int(ParamShardRows))
	workers := p.Int(ParamWorkers)
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	files, art, err := env.InputTable(table.Captions)
	if err != nil {
		return err
	}
	total := art.TableRows(table.Captions)
	splits := map[string]bool{}
	for _, s := range p.Strings(ParamVocabSplits) {
		splits[s] = true
	}

	// Pass 1: the vocabulary, from the vocabulary splits only.
	pr := env.Progress("vocab captions", total)
	counter, vocabCaptions, err := countTokens(ctx, files, splits, workers, pr)
	pr.Done()
	if err != nil {
		return err
	}
	if vocabCaptions == 0 {
		return fmt.Errorf("no caption of the captions table (%d rows, from stage %q) has a split in %v: the vocabulary would be empty",
			total, art.Stage, p.Strings(ParamVocabSplits))
	}
	vocab := counter.Vocab(minCount)
	opt := table.Options{Compression: p.String(ParamCompression)}
	if err := table.WriteFile(env.Path(VocabFile), env, table.Vocab, opt, vocab.Rows()); err != nil {
		return fmt.Errorf("writing vocab: %w", err)
	}
	env.AddTable(table.Vocab, int64(vocab.Len()), VocabFile)
	env.Log.Info("vocabulary built", "captions", vocabCaptions, "distinct", counter.Len(), "size", vocab.Len(), "min_count", minCount)

	// Pass 2: encode every caption into shards.
	pr = env.Progress("captions", total)
	st, shards, err := encodeAll(ctx, env, files, vocab, encodeOptions{maxLen: maxLen, shardRows: shardRows, workers: workers, table: opt, total: total}, pr)
	pr.Done()
	if err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(env.Dir, statsDir)); err != nil {
		return err
	}

	unkRate := ratio(st.Unk, st.TokensKept)
	unkBySplit := map[string]float64{}
	for k, kept := range st.KeptBySplit {
		unkBySplit[k] = ratio(st.UnkBySplit[k], kept)
	}
	env.SetInfo("captions", st.Captions)
	env.SetInfo("captions_by_split", st.BySplit)
	env.SetInfo("vocab_captions", vocabCaptions)
	env.SetInfo("vocab_splits", p.Strings(ParamVocabSplits))
	env.SetInfo("distinct_vocab_tokens", counter.Len())
	env.SetInfo("vocab_size", vocab.Len())
	env.SetInfo("tokens", st.Tokens)
	env.SetInfo("tokens_kept", st.TokensKept)
	env.SetInfo("unk_tokens", st.Unk)
	env.SetInfo("unk_rate", unkRate)
	env.SetInfo("unk_rate_by_split", unkBySplit)
	env.SetInfo("truncated", st.Truncated)
	env.SetInfo("max_tokens", st.MaxTokens)
	env.SetInfo("mean_tokens", ratio(st.Tokens, st.Captions))
	env.SetInfo("empty_captions", st.Empty)
	env.SetInfo("invalid_utf8_captions", st.InvalidUTF8)
	env.SetInfo("invalid_utf8_bytes", st.InvalidBytes)
	if st.FirstEmptyID >= 0 {
		env.SetInfo("first_empty_caption_id", st.FirstEmptyID)
	}
	if st.FirstInvalidID >= 0 {
		env.SetInfo("first_invalid_utf8_caption_id", st.FirstInvalidID)
	}
	env.SetInfo("shards", shards)
	env.SetMetric("vocab_size", float64(vocab.Len()))
	env.SetMetric("unk_rate", unkRate)
	if st.Empty > 0 || st.InvalidUTF8 > 0 {
		env.Log.Warn("odd captions", "empty", st.Empty, "invalid_utf8", st.InvalidUTF8)
	}
	env.Summarize("%d captions, %d tokens, vocab %d (min_count %d), unk %.2f%%, %d truncated to %d, %d empty, %d invalid UTF-8",
		st.Captions, st.Tokens, vocab.Len(), minCount, 100*unkRate, st.Truncated, maxLen, st.Empty, st.InvalidUTF8)
	return nil
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// countTokens counts the tokens of the captions whose split is in splits,
// with workers goroutines, and returns the merged counter and the number of
// captions counted.
func countTokens(ctx context.Context, files []string, splits map[string]bool, workers int, pr pipeline.Progress) (*Counter, int64, error) {
	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan []string, 2*workers)
	counters := make([]*Counter, workers)
	for w := range workers {
		counters[w] = &Counter{}
		g.Go(func() error {
			t := NewTokenizer()
			c := counters[w]
			for texts := range jobs {
				for _, s := range texts {
					for _, tok := range t.Split(s) {
						c.AddBytes(tok)
					}
				}
			}
			return nil
		})
	}
	var n int64
	g.Go(func() error {
		defer close(jobs)
		return table.Scan(gctx, files, scanBatch, func(rows []table.CaptionRow) error {
			texts := make([]string, 0, len(rows))
			for i := range rows {
				if splits[rows[i].Split] {
					texts = append(texts, rows[i].Text)
				}
			}
			n += int64(len(texts))
			pr.Add(int64(len(rows)))
			select {
			case jobs <- texts:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	// Merge in worker order; the vocabulary is sorted, so the merge order
	// does not change it.
	total := counters[0]
	for _, c := range counters[1:] {
		total.Merge(c)
	}
	return total, n, nil
}

type encodeOptions struct {
	maxLen    int
	shardRows int64
	workers   int
	table     table.Options
	// total is the number of captions (the captions table's row count), so
	// that a resumed shard is checked to hold all of its rows; 0: unknown.
	total int64
}

// wantRows returns how many rows shard k has, or -1 if opt.total is
// unknown.
func (opt encodeOptions) wantRows(k int64) int64 {
	if opt.total <= 0 {
		return -1
	}
	return max(0, min(opt.shardRows, opt.total-k*opt.shardRows))
}

// encJob is one batch of captions on its way through the encoders to the
// shard writer, which takes batches in reading order.
type encJob struct {
	start int64 // stream index of the first caption
	caps  []table.CaptionRow
	rows  []table.TokenRow
	st    *stats
	done  chan struct{}
}

// encodeAll encodes every caption of files into shards of opt.shardRows
// rows and declares the tokens table, shards in order. Shards committed by
// an interrupted attempt are skipped (their statistics come from the stats
// sidecar). It returns the totals and the number of shards.
func encodeAll(ctx context.Context, env *pipeline.Env, files []string, vocab *Vocab, opt encodeOptions, pr pipeline.Progress) (*stats, int, error) {
	resumed := map[int64]*stats{}  // shard -> its statistics; owned by the reader goroutine
	doneShards := map[int64]bool{} // shard -> finished by an earlier attempt
	resumedRows := map[int64]int64{}
	var nShards int64
	shardDone := func(k int64) bool {
		if d, ok := doneShards[k]; ok {
			return d
		}
		d := false
		if env.ShardDone(ShardFile(int(k))) {
			st, rows, err := readShardStats(env, int(k))
			var fileRows int64
			var ferr error
			if err == nil {
				fileRows, ferr = countShardRows(ctx, env.Path(ShardFile(int(k))))
			}
			switch want := opt.wantRows(k); {
			case err != nil:
			case want >= 0 && rows != want:
				// Committed with part of its rows (an earlier version
				// committed the shard in progress when a run was
				// cancelled): write it again.
				env.Log.Warn("committed shard lacks rows: writing it again", "shard", ShardFile(int(k)), "rows", rows, "want", want)
			case ferr != nil || fileRows != rows:
				// The file is not the one the stats describe (damaged or
				// replaced after its commit): write it again rather than
				// seal an artifact whose tokens table is unreadable or
				// holds other captions' ids.
				env.Log.Warn("committed shard file disagrees with its stats: writing it again", "shard", ShardFile(int(k)), "file_rows", fileRows, "rows", rows, "err", ferr)
			default:
				d = true
				resumed[k] = st
				resumedRows[k] = rows
				env.Log.Info("shard already done", "shard", ShardFile(int(k)), "rows", rows)
			}
		}
		doneShards[k] = d
		return d
	}

	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan *encJob, 2*opt.workers)
	order := make(chan *encJob, 2*opt.workers)
	for range opt.workers {
		g.Go(func() error {
			t := NewTokenizer()
			for j := range jobs {
				encodeBatch(t, vocab, opt.maxLen, j)
				close(j.done)
			}
			return nil
		})
	}
	w := &shardWriter{env: env, opt: opt, shard: -1, stats: map[int64]*stats{}, rows: map[int64]int64{}}
	// scanned is set by the reader, before it closes order, when it has
	// read every caption. Without it the writer, seeing order closed after
	// a read error or a cancellation, would finish and commit the shard in
	// progress with only part of its rows, and a rerun would skip it.
	scanned := false
	g.Go(func() error {
		for j := range order {
			select {
			case <-j.done:
			case <-gctx.Done():
				return gctx.Err()
			}
			if err := w.write(j); err != nil {
				return err
			}
			pr.Add(int64(len(j.caps)))
		}
		if !scanned {
			return nil // the reader's error is the group's; the caller aborts the open shard
		}
		return w.close()
	})
	g.Go(func() error {
		defer close(jobs)
		defer close(order)
		var idx int64
		err := table.Scan(gctx, files, scanBatch, func(rows []table.CaptionRow) error {
			// Split the batch at shard boundaries and drop finished shards.
			for len(rows) > 0 {
				k := idx / opt.shardRows
				n := min(int64(len(rows)), (k+1)*opt.shardRows-idx)
				nShards = max(nShards, k+1)
				if shardDone(k) {
					pr.Add(n)
				} else {
					j := &encJob{start: idx, caps: slices.Clone(rows[:n]), done: make(chan struct{})}
					for _, ch := range []chan *encJob{order, jobs} {
						select {
						case ch <- j:
						case <-gctx.Done():
							return gctx.Err()
						}
					}
				}
				rows = rows[n:]
				idx += n
			}
			return nil
		})
		scanned = err == nil
		return err
	})
	if err := g.Wait(); err != nil {
		w.abort()
		return nil, 0, err
	}
	for k, n := range resumedRows {
		w.rows[k] = n
		w.stats[k] = resumed[k]
	}
	// Merge the shards' statistics in shard order, whichever were resumed,
	// so that the first empty and invalid caption ids are the first in
	// caption order, as in an uninterrupted run.
	totals := newStats()
	for k := range nShards {
		n, ok := w.rows[k]
		st := w.stats[k]
		if !ok || st == nil {
			return nil, 0, fmt.Errorf("internal error: shard %s was neither written nor resumed", ShardFile(int(k)))
		}
		env.AddTable(table.Tokens, n, ShardFile(int(k)))
		totals.add(st)
	}
	return totals, int(nShards), nil
}

// encodeBatch tokenizes and encodes j.caps into j.rows and j.st.
func encodeBatch(t *Tokenizer, vocab *Vocab, maxLen int, j *encJob) {
	st := newStats()
	rows := make([]table.TokenRow, len(j.caps))
	// One backing array for the batch's ids.
	slab := make([]int32, 0, len(j.caps)*16)
	for i := range j.caps {
		c := &j.caps[i]
		toks := t.Split(c.Text)
		if inv := t.Invalid(); inv > 0 {
			st.InvalidUTF8++
			st.InvalidBytes += int64(inv)
			if st.FirstInvalidID < 0 {
				st.FirstInvalidID = c.CaptionID
			}
		}
		n := len(toks)
		st.Captions++
		st.BySplit[c.Split]++
		st.Tokens += int64(n)
		st.MaxTokens = max(st.MaxTokens, int64(n))
		if n == 0 {
			st.Empty++
			if st.FirstEmptyID < 0 {
				st.FirstEmptyID = c.CaptionID
			}
		}
		if n > maxLen {
			st.Truncated++
			toks = toks[:maxLen]
		}
		lo := len(slab)
		unk := int64(0)
		for _, tok := range toks {
			id := vocab.LookupBytes(tok)
			if id == UnkID {
				unk++
			}
			slab = append(slab, id)
		}
		st.TokensKept += int64(len(toks))
		st.Unk += unk
		st.UnkBySplit[c.Split] += unk
		st.KeptBySplit[c.Split] += int64(len(toks))
		rows[i] = table.TokenRow{CaptionID: c.CaptionID, ImageID: c.ImageID, Split: c.Split,
			IDs: slab[lo:len(slab):len(slab)], Length: int32(len(toks))}
	}
	j.rows, j.st = rows, st
}

// shardWriter writes encoded batches, in stream order, into shard files.
type shardWriter struct {
	env   *pipeline.Env
	opt   encodeOptions
	shard int64
	w     *table.Writer[table.TokenRow]
	st    *stats
	stats map[int64]*stats // statistics of each shard written
	rows  map[int64]int64  // rows of each shard written
}

func (s *shardWriter) write(j *encJob) error {
	k := j.start / s.opt.shardRows
	if k != s.shard {
		if err := s.close(); err != nil {
			return err
		}
		w, err := table.Create[table.TokenRow](s.env.Path(ShardFile(int(k))), s.env, table.Tokens, s.opt.table)
		if err != nil {
			return err
		}
		s.w, s.shard, s.st = w, k, newStats()
	}
	if err := s.w.Write(j.rows); err != nil {
		return err
	}
	s.st.add(j.st)
	return nil
}

// close finishes the open shard: file, stats sidecar, commit marker.
func (s *shardWriter) close() error {
	if s.w == nil {
		return nil
	}
	w, k := s.w, int(s.shard)
	s.w = nil
	rows := w.Rows()
	if err := w.Close(); err != nil {
		return err
	}
	if err := writeShardStats(s.env, k, s.st, rows); err != nil {
		return err
	}
	if err := s.env.CommitShard(ShardFile(k), ShardFile(k)); err != nil {
		return err
	}
	s.rows[s.shard] = rows
	s.stats[s.shard] = s.st
	if testAfterShardCommit != nil {
		return testAfterShardCommit(k)
	}
	return nil
}

// testAfterShardCommit, when set by a test, runs after each shard commit;
// an error simulates a crash.
var testAfterShardCommit func(shard int) error

func (s *shardWriter) abort() {
	if s.w != nil {
		s.w.Abort()
		s.w = nil
	}
}

type shardStats struct {
	Rows  int64  `json:"rows"`
	Stats *stats `json:"stats"`
}

func statsPath(env *pipeline.Env, k int) string {
	return filepath.Join(env.Dir, statsDir, fmt.Sprintf("part-%05d.json", k))
}

func writeShardStats(env *pipeline.Env, k int, st *stats, rows int64) error {
	b, err := json.Marshal(shardStats{Rows: rows, Stats: st})
	if err != nil {
		return err
	}
	p := statsPath(env, k)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, b, 0o644)
}

// countShardRows reads the tokens shard at path through and returns its
// row count, or an error if it is not a readable tokens table.
func countShardRows(ctx context.Context, path string) (int64, error) {
	var n int64
	err := table.Scan(ctx, []string{path}, scanBatch, func(rows []table.TokenRow) error {
		n += int64(len(rows))
		return nil
	})
	return n, err
}

func readShardStats(env *pipeline.Env, k int) (*stats, int64, error) {
	b, err := os.ReadFile(statsPath(env, k))
	if err != nil {
		return nil, 0, err
	}
	var s shardStats
	if err := json.Unmarshal(b, &s); err != nil || s.Stats == nil {
		return nil, 0, fmt.Errorf("%s: bad shard stats", statsPath(env, k))
	}
	for _, m := range []*map[string]int64{&s.Stats.BySplit, &s.Stats.UnkBySplit, &s.Stats.KeptBySplit} {
		if *m == nil {
			*m = map[string]int64{}
		}
	}
	return s.Stats, s.Rows, nil
}
