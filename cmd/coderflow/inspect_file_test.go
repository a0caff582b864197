package main

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/lz4"

	cftable "coderflow/datasets/table"
)

type oddRow struct {
	ID  int64   `parquet:"id"`
	F   float64 `parquet:"f"`
	Raw []byte  `parquet:"raw"`
	S   string  `parquet:"s"`
}

func writeOdd(t *testing.T, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "odd.parquet")
	rows := make([]oddRow, n)
	for i := range rows {
		rows[i] = oddRow{ID: int64(i), F: []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0.5}[i%4], Raw: []byte{0xff, byte(i)}, S: strings.Repeat("x", 40)}
	}
	if err := parquet.WriteFile(p, rows); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInspectFileJSON: --json with --head is valid JSON for NaN, ±Inf and
// binary values, and the text form shows them too.
func TestInspectFileJSON(t *testing.T) {
	p := writeOdd(t, 4)
	code, out := cli(t, "inspect", p, "--json", "--head", "4")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var got struct {
		Rows int64
		Head []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, out)
	}
	if got.Rows != 4 || len(got.Head) != 4 || got.Head[0]["f"] != "NaN" || got.Head[2]["f"] != "-Inf" || got.Head[1]["raw"] != "0xff01" {
		t.Fatalf("parsed %+v", got)
	}
	code, out = cli(t, "inspect", p, "--head", "2")
	if code != 0 || !strings.Contains(out, `f="NaN" raw="0xff00"`) || !strings.Contains(out, `f="+Inf"`) {
		t.Fatalf("text: exit %d\n%s", code, out)
	}
	code, out = cli(t, "inspect", p, "--json")
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
		t.Fatalf("--json without --head: exit %d, %v\n%s", code, err, out)
	}
}

// TestInspectFileJSONParts: --schema and --meta keep their meaning with
// --json (they were ignored and the whole description printed).
func TestInspectFileJSONParts(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.parquet")
	if err := cftable.WriteFile(p, nil, cftable.Vocab, cftable.Options{Meta: map[string]string{"dim": "7"}}, []cftable.VocabRow{{ID: 1, Token: "a", Count: 2}}); err != nil {
		t.Fatal(err)
	}
	code, out := cli(t, "inspect", p, "--meta", "--json")
	var meta map[string]any
	if err := json.Unmarshal([]byte(out), &meta); code != 0 || err != nil || meta["dim"] != "7" || meta["rows"] != nil {
		t.Fatalf("--meta --json: exit %d, %v\n%s", code, err, out)
	}
	code, out = cli(t, "inspect", p, "--schema", "--json")
	var sch map[string]any
	if err := json.Unmarshal([]byte(out), &sch); code != 0 || err != nil || !strings.Contains(sch["schema"].(string), "token") || sch["metadata"] != nil {
		t.Fatalf("--schema --json: exit %d, %v\n%s", code, err, out)
	}
}

// TestInspectJSONNoPartialOutput: when rows cannot be read at all (LZ4_RAW,
// refused by pqinspect) --json --head writes nothing to stdout rather than
// the start of a JSON object.
func TestInspectJSONNoPartialOutput(t *testing.T) {
	type r struct {
		ID int64 `parquet:"id"`
	}
	p := filepath.Join(t.TempDir(), "lz4.parquet")
	if err := parquet.WriteFile(p, []r{{1}, {2}}, parquet.Compression(&lz4.Codec{Level: lz4.Fast})); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := runCLI(t.Context(), []string{"inspect", p, "--json", "--head", "2"}, &stdout, &stderr)
	if code == 0 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "LZ4_RAW") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	code, out := cli(t, "inspect", p, "--json", "--meta")
	if code != 0 || !json.Valid([]byte(out)) {
		t.Fatalf("--meta of an LZ4_RAW file: exit %d\n%s", code, out)
	}
}

// heapProbe is an output that records the live heap every 20,000 writes.
type heapProbe struct {
	writes int
	peak   uint64
}

func (h *heapProbe) Write(b []byte) (int, error) {
	h.writes++
	if h.writes%20000 == 0 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		h.peak = max(h.peak, m.HeapAlloc)
	}
	return len(b), nil
}

// TestInspectHeadStreams: --head N prints rows as it reads them, so the live
// heap stays small while a large N is printed (it held all N rows before).
func TestInspectHeadStreams(t *testing.T) {
	const n = 200000
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	p := writeOdd(t, n)
	for _, args := range [][]string{{"--head", "1000000"}, {"--head", "1000000", "--json"}} {
		h := &heapProbe{}
		var errb bytes.Buffer
		if code := runCLI(t.Context(), append([]string{"inspect", p}, args...), h, &errb); code != 0 {
			t.Fatalf("%v: exit %d %s", args, code, errb.String())
		}
		if h.writes < n/2 {
			t.Fatalf("%v: only %d writes for %d rows", args, h.writes, n)
		}
		grown := int64(h.peak) - int64(base.HeapAlloc)
		t.Logf("%v: live heap grew by %d KB", args, grown>>10)
		if grown > 32<<20 {
			t.Errorf("%v: live heap grew by %d MB while printing %d rows", args, grown>>20, n)
		}
	}
}

// TestInspectLongMetadata: the description cuts a long key-value metadata
// value (Arrow writes its schema as kilobytes of base64 under ARROW:schema)
// and --meta shows it whole.
func TestInspectLongMetadata(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meta.parquet")
	long := "x" + strings.Repeat("é", 1950) // byte 200 is inside an é
	if err := parquet.WriteFile(p, []oddRow{{ID: 1}}, parquet.KeyValueMetadata("ARROW:schema", long), parquet.KeyValueMetadata("short", "v")); err != nil {
		t.Fatal(err)
	}
	code, out := cli(t, "inspect", p)
	if code != 0 || strings.Contains(out, long) || !strings.Contains(out, "… (3901 bytes; --meta shows it whole)") || !strings.Contains(out, "  short = v\n") || !utf8.ValidString(out) {
		t.Errorf("description: exit %d\n%s", code, out)
	}
	if len(out) > 2000 {
		t.Errorf("description of a one-column file is %d bytes", len(out))
	}
	code, out = cli(t, "inspect", p, "--meta")
	if code != 0 || !strings.Contains(out, "ARROW:schema = "+long+"\n") {
		t.Errorf("--meta: exit %d\n%.300s", code, out)
	}
}

// TestInspectMetaEscaped: --meta prints each value whole but escaped, as
// the rest of inspect does: an escape sequence or a newline in a file's
// metadata reached the terminal raw (and a newline broke the key = value
// lines).
func TestInspectMetaEscaped(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.parquet")
	long := strings.Repeat("v", 500)
	meta := map[string]string{"evil": "\x1b]0;pwned\x07red\nfake = line", "long": long}
	if err := cftable.WriteFile(p, nil, cftable.Vocab, cftable.Options{Meta: meta}, []cftable.VocabRow{{ID: 1, Token: "a", Count: 2}}); err != nil {
		t.Fatal(err)
	}
	code, out := cli(t, "inspect", p, "--meta")
	if code != 0 || strings.ContainsAny(out, "\x1b\x07") || strings.Contains(out, "\nfake = line") {
		t.Fatalf("--meta: exit %d, raw control bytes or a broken line:\n%q", code, out)
	}
	if !strings.Contains(out, `evil = \x1b]0;pwned\ared\nfake = line`) || !strings.Contains(out, "long = "+long+"\n") {
		t.Errorf("--meta: want the values whole and escaped:\n%s", out)
	}
}
