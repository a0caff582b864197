// Package tokenize is the `tokenize` stage kind and the caption tokenizer
// and vocabulary it is built on, exported so that other packages (concept
// linking, training, tools) tokenize text exactly the same way.
//
// # Tokenizer
//
// [Tokenize] (or a reusable [Tokenizer]) reproduces SCAN's
// nltk.word_tokenize(caption.lower()) with NLTK 3.8:
//
//  1. Invalid UTF-8 bytes become U+FFFD (counted: [Tokenizer.Invalid]),
//     the text is put in Unicode NFC, lower-cased and put in NFC again
//     (lower-casing can leave NFC: "J\u030c" gives "j\u030c", composed
//     to U+01F0 as a small "ǰ" is) ([Normalize]).
//  2. The text is split into sentences where NLTK's Punkt looks for and
//     cuts them (exactly: a mark followed by whitespace or some
//     punctuation, closing quotes and brackets moved back), with Punkt's
//     model approximated (see sentence.go: a word ending in ".", "?" or "!"
//     ends a sentence unless it is an abbreviation, an initial or a
//     number). As in Punkt, the next sentence starts at its first token,
//     without the whitespace before it.
//  3. Each sentence goes through NLTKWordTokenizer's rewrite cascade,
//     reimplemented without regular expressions and with Python's Unicode
//     \w \d \s: an opening double quote becomes two backticks and a
//     closing one two apostrophes (as in the Penn Treebank), clitics are
//     split ("don't" -> "do" "n't", "can't" -> "ca" "n't", "dog's" -> "dog"
//     "'s", "i'm" -> "i" "'m", "they'll" -> "they" "'ll"), punctuation is
//     split off (a sentence-final period, "," and ":" unless followed by a
//     digit, ; @ # $ % & ? ! * brackets, "--", "..."), while hyphenated
//     words ("t-shirt") and numbers ("3.5", "1,000", "5:30") stay whole.
//  4. The result is split on Unicode whitespace.
//
// Tokens are never empty and never contain whitespace. Differences from
// SCAN's Python: lower-casing is Go's (U+0130 "İ" becomes "i", not "i̇";
// no final-sigma rule), and the Punkt decisions are approximated. The
// cascade itself is checked against NLTK's own NLTKWordTokenizer on the
// golden cases and on random strings (TestAgainstNLTK, run when python3
// with NLTK is installed).
//
// # Vocabulary
//
// A [Counter] counts tokens; [Counter.Vocab] keeps those seen at least
// min_count times. Ids: <pad>=0, <start>=1, <end>=2, <unk>=3 ([PadID] ...
// [UnkID]), then tokens by count descending, ties by token ascending (byte
// order), so the vocabulary is deterministic. [Vocab.Lookup] maps an unknown
// token to [UnkID]. [LoadVocab] reads the vocab table of a tokenize
// artifact back, rows in any order; a damaged table (ids not exactly
// 0..N-1, a duplicated or empty token, a negative count, the specials not
// at ids 0-3) is an error naming the file and the row.
//
// # The tokenize stage
//
// Input: the nearest upstream captions table. Pass 1 streams it and counts
// the tokens of the captions whose split is in vocab_splits (default
// train and restval: never dev or test, which would leak evaluation words
// into the vocabulary). Pass 2 streams it again and writes one tokens row
// per caption, in input order, into tokens/part-NNNNN.parquet shards of
// shard_rows rows: ids without <start>/<end>, truncated to max_len
// (counted in info.truncated), length = len(ids). An empty caption (or one
// of whitespace only) gives length 0 and is counted in info.empty_captions;
// a caption with invalid UTF-8 is tokenized with U+FFFD in place of the bad
// bytes and counted in info.invalid_utf8_captions. Memory is bounded by the
// vocabulary and a few batches per worker, not by the number of captions.
// Each shard is committed with [pipeline.Env.CommitShard] once all its
// rows are written (never when the run stops in its middle), so a rerun
// after a crash or a cancellation skips the shards already written; a
// committed shard whose row count is not the one the captions table gives
// it, or whose file (read back on resume) is not a tokens table of that
// many rows, is written again.
package tokenize
