package kg

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
)

// MaxBadSamples is how many bad lines [ReadStats] keeps with their reasons.
const MaxBadSamples = 20

// The JSON keys of an assertion's weight and dataset.
const (
	keyWeight  = "weight"
	keyDataset = "dataset"
)

// MaxLineBytes bounds an assertion line (real ones are under a few KiB); a
// longer line is counted as malformed and skipped without being held in
// memory.
const MaxLineBytes = 16 << 20

// BadLine is a malformed input line: where it is and what is wrong.
type BadLine struct {
	File   string `json:"file"`
	Line   int64  `json:"line"`
	Reason string `json:"reason"`
}

func (b BadLine) String() string { return fmt.Sprintf("%s:%d: %s", b.File, b.Line, b.Reason) }

// ReadStats counts what a reader saw. Lines = Edges + Skipped + Bad.
type ReadStats struct {
	Lines   int64     `json:"lines"`                 // non-empty lines (records) read
	Edges   int64     `json:"edges"`                 // English edges passed on
	Skipped int64     `json:"skipped"`               // well-formed but not kept: other languages, external URLs, filtered relations, self loops (their JSON is not parsed)
	Bad     int64     `json:"bad"`                   // malformed lines
	Samples []BadLine `json:"bad_samples,omitempty"` // the first MaxBadSamples bad lines
}

// Add merges o into s.
func (s *ReadStats) Add(o ReadStats) {
	s.Lines += o.Lines
	s.Edges += o.Edges
	s.Skipped += o.Skipped
	s.Bad += o.Bad
	for _, b := range o.Samples {
		if len(s.Samples) < MaxBadSamples {
			s.Samples = append(s.Samples, b)
		}
	}
}

// BadFraction returns Bad / Lines (0 for no lines).
func (s ReadStats) BadFraction() float64 {
	if s.Lines == 0 {
		return 0
	}
	return float64(s.Bad) / float64(s.Lines)
}

func (s *ReadStats) bad(file string, line int64, format string, args ...any) {
	s.Bad++
	if len(s.Samples) < MaxBadSamples {
		s.Samples = append(s.Samples, BadLine{File: file, Line: line, Reason: fmt.Sprintf(format, args...)})
	}
}

// ReadOptions configure the readers.
type ReadOptions struct {
	// Relations keeps only these relation URIs ("/r/IsA"); empty keeps all.
	Relations []string
	// Batch is the number of edges per callback; default 65536.
	Batch int
}

func (o ReadOptions) batch() int {
	if o.Batch <= 0 {
		return 1 << 16
	}
	return o.Batch
}

// newBatch returns the readers' batch slice: its capacity is bounded, so
// that a huge Batch is reached by growing with the data, not allocated up
// front (1<<40 edges made the runtime abort, out of memory).
func (o ReadOptions) newBatch() []Edge { return make([]Edge, 0, min(o.batch(), 1<<16)) }

func (o ReadOptions) relSet() map[string]bool {
	if len(o.Relations) == 0 {
		return nil
	}
	m := map[string]bool{}
	for _, r := range o.Relations {
		m[r] = true
	}
	return m
}

// ReadConceptNetFile reads a ConceptNet 5 assertions file (plain or gzip,
// detected by its first bytes). See [ReadConceptNet].
func ReadConceptNetFile(ctx context.Context, path string, opt ReadOptions, fn func([]Edge) error) (ReadStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return ReadStats{}, fmt.Errorf("kg: %w", err)
	}
	defer f.Close()
	return ReadConceptNet(ctx, f, path, opt, fn)
}

// ReadConceptNet streams ConceptNet 5 assertions
// (uri<TAB>rel<TAB>start<TAB>end<TAB>json, weight and dataset in the JSON)
// from r, gunzipping if r starts with the gzip magic. It calls fn with
// batches of English-to-English edges (the slice is reused after fn
// returns). Malformed lines are counted in the stats with line numbers,
// not returned as errors; read errors (a truncated gzip stream) are
// returned naming the file and line. name labels messages.
func ReadConceptNet(ctx context.Context, r io.Reader, name string, opt ReadOptions, fn func([]Edge) error) (ReadStats, error) {
	var st ReadStats
	br := bufio.NewReaderSize(r, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return st, fmt.Errorf("kg: %s: gzip: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<20)
	}
	rels := opt.relSet()
	batch, size := opt.newBatch(), opt.batch()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := fn(batch)
		batch = batch[:0]
		return err
	}
	var line int64
	var long []byte
	tooLong := false // the current line passed MaxLineBytes: skip to its end
	for {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A 1 MiB piece of a long line: a file without newlines
			// must stop on cancel too.
			if cerr := ctx.Err(); cerr != nil {
				return st, cerr
			}
			if !tooLong {
				long = append(long, b...)
				if len(long) > MaxLineBytes {
					tooLong, long = true, nil
				}
			}
			continue
		}
		if !tooLong && len(long)+len(b) > MaxLineBytes {
			tooLong, long = true, nil
		}
		if tooLong {
			line++
			st.Lines++
			st.bad(name, line, "line longer than %d bytes", MaxLineBytes)
			tooLong, b = false, nil
		}
		if long != nil {
			b = append(long, b...)
			long = nil
		}
		if len(b) > 0 {
			line++
			if line&0xffff == 0 {
				if cerr := ctx.Err(); cerr != nil {
					return st, cerr
				}
			}
			if e, ok := parseAssertion(b, rels, &st, name, line); ok {
				batch = append(batch, e)
				st.Edges++
				if len(batch) >= size {
					if ferr := flush(); ferr != nil {
						return st, ferr
					}
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, fmt.Errorf("kg: %s: after line %d: %w", name, line, err)
		}
	}
	return st, flush()
}

var (
	tab           = []byte{'\t'}
	prefixRel     = []byte("/r/")
	prefixConcept = []byte("/c/")
	prefixEN      = []byte(ConceptPrefix)
)

// parseAssertion parses one line; it updates st for skipped and bad lines.
func parseAssertion(b []byte, rels map[string]bool, st *ReadStats, name string, line int64) (Edge, bool) {
	b = bytes.TrimRight(b, "\r\n")
	if len(bytes.TrimSpace(b)) == 0 {

		return Edge{}, false
	}
	st.Lines++
	var f [5][]byte
	n := 0
	for n < 4 {
		i := bytes.IndexByte(b, '\t')
		if i < 0 {
			break
		}
		f[n] = b[:i]
		b = b[i+1:]
		n++
	}
	f[n] = b
	n++
	if n != 5 || bytes.IndexByte(b, '\t') >= 0 {
		st.bad(name, line, "want 5 tab-separated fields (uri, rel, start, end, json), got %d", n+bytes.Count(b, tab))
		return Edge{}, false
	}
	rel, start, end, js := f[1], f[2], f[3], f[4]
	if !bytes.HasPrefix(rel, prefixRel) || len(rel) == len(prefixRel) {
		st.bad(name, line, "relation %q is not a /r/ URI", clip(rel))
		return Edge{}, false
	}
	if !bytes.HasPrefix(start, prefixConcept) {
		st.bad(name, line, "start %q is not a /c/ concept URI", clip(start))
		return Edge{}, false
	}
	if len(end) == 0 {
		st.bad(name, line, "empty end")
		return Edge{}, false
	}
	if len(js) < 2 || js[0] != '{' || js[len(js)-1] != '}' {
		st.bad(name, line, "field 5 is not a JSON object")
		return Edge{}, false
	}
	if !utf8.Valid(rel) || !utf8.Valid(start) || !utf8.Valid(end) {
		// Concepts and relations end up in Parquet string columns.
		st.bad(name, line, "invalid UTF-8 in the relation or a concept URI")
		return Edge{}, false
	}
	if !bytes.HasPrefix(start, prefixEN) || !bytes.HasPrefix(end, prefixEN) {
		st.Skipped++ // another language, or an external URL
		return Edge{}, false
	}
	if rels != nil && !rels[string(rel)] {
		st.Skipped++
		return Edge{}, false
	}
	s, ok1 := NormalizeConcept(string(start))
	e, ok2 := NormalizeConcept(string(end))
	if !ok1 || !ok2 {
		st.bad(name, line, "empty English concept term")
		return Edge{}, false
	}
	if c := spaceOrControl(rel, s, e); c != "" {
		// ConceptNet writes spaces as '_' and has no control characters:
		// such a concept ("a b", "a\x00b") is damage, and could never be
		// linked or looked up (both join words with '_').
		st.bad(name, line, "space or control character in %q", clip([]byte(c)))
		return Edge{}, false
	}
	if s == e {
		st.Skipped++
		return Edge{}, false
	}
	// Only the kept lines' JSON is validated (not the other-language
	// nine tenths of ConceptNet): about 1.3 µs a line, 5 s for English
	// ConceptNet, 220 instead of 575 MB/s on an all-English file (the
	// bulk load benchmark: 173k instead of 205k edges/s). A
	// damaged object is malformed, not read for what its bytes look like:
	// "weight": 0x10 gave weight 0, "weight": 12abc 12, a missing comma
	// passed, and "dataset": "/d/a\"b" was cut to /d/a\.
	if !json.Valid(js) {
		st.bad(name, line, "field 5 is not valid JSON")
		return Edge{}, false
	}
	w, ok := jsonNumber(js, keyWeight)
	if !ok {
		st.bad(name, line, "no numeric \"weight\" in the JSON")
		return Edge{}, false
	}
	if math.IsInf(float64(float32(w)), 0) {
		// An infinite weight would make every weight / max weight NaN.
		st.bad(name, line, "\"weight\" %g is out of float32 range", w)
		return Edge{}, false
	}
	ds, ok := jsonString(js, keyDataset)
	if !ok {
		st.bad(name, line, "\"dataset\" in the JSON is not a string")
		return Edge{}, false
	}
	return Edge{Rel: string(rel), Start: s, End: e, Weight: float32(w), Dataset: ds}, true
}

// spaceOrControl returns the first of the relation rel and the terms s, e
// that holds a space or an ASCII control character, or "".
func spaceOrControl(rel []byte, s, e string) string {
	bad := func(b byte) bool { return b <= ' ' || b == 0x7f }
	for _, b := range rel {
		if bad(b) {
			return string(rel)
		}
	}
	for _, t := range [...]string{s, e} {
		for i := 0; i < len(t); i++ {
			if bad(t[i]) {
				return t
			}
		}
	}
	return ""
}

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// jsonField returns the value of the top-level key of the valid JSON
// object js (from its first byte), or nil. A key written with escapes
// ("weig\u0068t") is not recognised; keys of nested objects (a source's
// "weight") are not the object's.
func jsonField(js []byte, key string) []byte {
	depth := 0
	for i := 0; i < len(js); i++ {
		switch js[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			j := i + 1
			for j < len(js) && js[j] != '"' {
				if js[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(js) {
				return nil
			}
			if depth == 1 && string(js[i+1:j]) == key {
				v := bytes.TrimLeft(js[j+1:], " \t\r\n")
				if len(v) > 0 && v[0] == ':' {
					return bytes.TrimLeft(v[1:], " \t\r\n")
				}
			}
			i = j
		}
	}
	return nil
}

// jsonNumber finds "key": <number> in a valid JSON object.
func jsonNumber(js []byte, key string) (float64, bool) {
	v := jsonField(js, key)
	j := 0
	for j < len(v) && (v[j] == '-' || v[j] == '+' || v[j] == '.' || v[j] == 'e' || v[j] == 'E' || (v[j] >= '0' && v[j] <= '9')) {
		j++
	}
	w, err := strconv.ParseFloat(string(v[:j]), 64)
	if err != nil {
		return 0, false
	}
	return w, true
}

// jsonString finds "key": "<string>" in a valid JSON object; a missing
// key is "" (ok), a value that is not a string is not ok.
func jsonString(js []byte, key string) (string, bool) {
	v := jsonField(js, key)
	if v == nil {
		return "", true
	}
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	esc := false
	for j := 1; j < len(v); j++ {
		switch {
		case v[j] == '\\':
			esc = true
			j++ // the escaped byte
		case v[j] == '"':
			if !esc {
				return string(v[1:j]), true
			}
			var s string
			if err := json.Unmarshal(v[:j+1], &s); err != nil {
				return "", false
			}
			return s, true
		}
	}
	return "", false
}
