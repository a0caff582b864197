package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// badCase is one entry of the bad-input catalogue (docs/RELIABILITY.md).
type badCase struct {
	name  string // test name; the catalogue's last column
	input string // what is wrong, for the catalogue
	stage string // the stage kind (or CLI command) that must catch it
	// setup writes the inputs under dir and returns coderflow's arguments;
	// wd is the shared workdir whose cached guard artifact must survive.
	setup func(t *testing.T, dir, wd string) []string
	exit  int      // expected exit code
	want  []string // substrings of the output: the error, naming the file or position
	// absent lists substrings the output must not contain (e.g. a retry
	// of an error that is not worth retrying).
	absent []string
	// skip, for exit 0: the counted skip that must appear in a manifest:
	// stage id and the path of a positive number in its info.
	skipStage string
	skipInfo  []string
	// info lists substrings of that stage's manifest info as JSON (e.g. the
	// documented example of a skipped file).
	info []string
	// needs lists stage kinds the case requires in the binary (skipped otherwise).
	needs []string
}

// guardWF is a good workflow run first into the shared workdir; after every
// bad case its artifacts must still be cached and verify.
const guardWF = `name: guard
stages:
  data:
    uses: dataset.synth
    with: {images: 8, min_size: 64, max_size: 64, seed: 1}
  tokens:
    uses: tokenize
    needs: [data]
    with: {min_count: 1}
`

// wfFile writes a workflow named after the case and returns run arguments.
func wfFile(t *testing.T, dir, wd, body string, extra ...string) []string {
	t.Helper()
	p := write(t, filepath.Join(dir, "bad.yaml"), []byte(body))
	return append([]string{"run", p, "--workdir", wd, "--no-progress"}, extra...)
}

// stageWF is a one- or two-stage workflow around the stage under test.
func stageWF(name, stages string) string {
	return "name: " + name + "\nstages:\n" + stages
}

func badCases(t *testing.T, srv *httptest.Server) []badCase {
	img := func(name, input string, bad map[string][]byte, exit int, want []string, skipStage string, skipInfo ...string) badCase {
		stage := "features.regions"
		if skipStage == "data" {
			stage = "dataset.flickr8k"
		}
		return badCase{name: name, input: input, stage: stage,
			setup: func(t *testing.T, dir, wd string) []string {
				images := goodImages(t)
				for k, v := range bad {
					images[k] = v
				}
				src := flickr8kDir(t, filepath.Join(dir, "f8k"), images, "")
				return wfFile(t, dir, wd, stageWF(name, fmt.Sprintf(`  data:
    uses: dataset.flickr8k
    with: {source: "dir:%s"}
  features:
    uses: features.regions
    needs: [data]
    with: {regions: 1, short_side: 32, max_fail_fraction: 0.5}
`, src)))
			}, exit: exit, want: want, skipStage: skipStage, skipInfo: skipInfo}
	}
	jpg := jpegBytes(t, 9)
	download := func(name, input, file string, body []byte, with string, want ...string) badCase {
		return badCase{name: name, input: input, stage: "download", exit: 1, want: want,
			setup: func(t *testing.T, dir, wd string) []string {
				p := write(t, filepath.Join(dir, file), body)
				return wfFile(t, dir, wd, stageWF(name, fmt.Sprintf("  get:\n    uses: download\n    with: {url: %q, %s}\n", p, with)))
			}}
	}
	httpGet := func(name, input, path, with string, want ...string) badCase {
		return badCase{name: name, input: input, stage: "download", exit: 1, want: want,
			setup: func(t *testing.T, dir, wd string) []string {
				return wfFile(t, dir, wd, stageWF(name, fmt.Sprintf(
					"  get:\n    uses: download\n    with: {url: %q, retries: 2, backoff: 0, header_timeout: 5, idle_timeout: 5, extract: false, %s}\n",
					srv.URL+path, with)))
			}}
	}
	precomp := func(name, input string, ims []byte, capLines int, exit int, want ...string) badCase {
		return badCase{name: name, input: input, stage: "dataset.precomp", exit: exit, want: want,
			setup: func(t *testing.T, dir, wd string) []string {
				src := precompDir(t, filepath.Join(dir, "scan"), ims, capLines)
				return wfFile(t, dir, wd, stageWF(name, fmt.Sprintf(
					"  data:\n    uses: dataset.precomp\n    with: {source: \"dir:%s\", splits: [train], shard_rows: 2}\n", src)))
			}}
	}
	inspect := func(name, input string, body func(t *testing.T, wd string) []byte, want ...string) badCase {
		return badCase{name: name, input: input, stage: "coderflow inspect", exit: 1, want: want,
			setup: func(t *testing.T, dir, wd string) []string {
				return []string{"inspect", write(t, filepath.Join(dir, "bad.parquet"), body(t, wd)), "--head", "2"}
			}}
	}
	csv := func(name, input, file string, body []byte, with string, exit int, want ...string) badCase {
		return badCase{name: name, input: input, stage: "kg.conceptnet", exit: exit, want: want, needs: []string{"kg.conceptnet"},
			setup: func(t *testing.T, dir, wd string) []string {
				p := write(t, filepath.Join(dir, file), body)
				return wfFile(t, dir, wd, stageWF(name, fmt.Sprintf("  kg:\n    uses: kg.conceptnet\n    with: {source: %q, %s}\n", p, with)))
			}}
	}
	goodCSV := conceptNetCSV(0)
	karpathy := func(name, input string, edit func(string) string, exit int, want ...string) badCase {
		c := badCase{name: name, input: input, stage: "dataset.f30k", exit: exit, want: want,
			setup: func(t *testing.T, dir, wd string) []string {
				src := filepath.Join(dir, "f30k")
				var imgs []string
				for i, split := range []string{"train", "train", "val", "test"} {
					n := fmt.Sprintf("%d.jpg", i)
					write(t, filepath.Join(src, "flickr30k-images", n), jpegBytes(t, uint64(i)))
					var sents []string
					for k := range 5 {
						sents = append(sents, fmt.Sprintf(`{"raw": "a picture %d of shapes %d"}`, i, k))
					}
					imgs = append(imgs, fmt.Sprintf(`{"filename": %q, "split": %q, "sentences": [%s]}`, n, split, strings.Join(sents, ", ")))
				}
				j := `{"dataset": "flickr30k", "images": [` + strings.Join(imgs, ", ") + `]}`
				write(t, filepath.Join(src, "dataset_flickr30k.json"), []byte(edit(j)))
				return wfFile(t, dir, wd, stageWF(name, fmt.Sprintf("  data:\n    uses: dataset.f30k\n    with: {source: \"dir:%s\"}\n", src)))
			}}
		if exit == 0 {
			c.skipStage, c.skipInfo = "data", []string{"issues", "missing_images", "count"}
		}
		return c
	}
	wfErr := func(name, input, body string, extra []string, want ...string) badCase {
		return badCase{name: name, input: input, stage: "workflow", exit: 2, want: want,
			setup: func(t *testing.T, dir, wd string) []string { return wfFile(t, dir, wd, body, extra...) }}
	}
	synth := "name: w\nstages:\n  data:\n    uses: dataset.synth\n    with: {images: 8, min_size: 64, max_size: 64}\n"

	return []badCase{
		// Workflow files: exit 2 before anything runs, file:line:col.
		wfErr("WorkflowUnknownKind", "unknown stage kind", "name: w\nstages:\n  data:\n    uses: dataset.synthh\n", nil,
			"bad.yaml:4:11", `unknown stage kind "dataset.synthh"`, `did you mean "dataset.synth"`),
		wfErr("WorkflowCycle", "needs cycle", "name: w\nstages:\n  a:\n    uses: dataset.synth\n    needs: [b]\n  b:\n    uses: tokenize\n    needs: [a]\n", nil,
			"bad.yaml:3:3", "dependency cycle: a -> b -> a"),
		wfErr("WorkflowBadParamType", "string for an int param", "name: w\nstages:\n  data:\n    uses: dataset.synth\n    with: {images: many}\n", nil,
			"bad.yaml:5:20", "with.images", `want an integer, got "many"`),
		wfErr("WorkflowUnresolvedRef", "${params.X} not declared", "name: w\nparams: {seed: 1}\nstages:\n  data:\n    uses: dataset.synth\n    with: {seed: ${params.sed}}\n", nil,
			"bad.yaml:6:", "unresolved reference ${params.sed}", `did you mean "seed"`),
		wfErr("WorkflowBadYAML", "tab indentation", "name: w\nstages:\n  data:\n\tuses: dataset.synth\n", nil,
			"bad.yaml:4:1: invalid YAML: found character", "that cannot start any token"),
		wfErr("WorkflowUnknownParam", "misspelt param", "name: w\nstages:\n  data:\n    uses: dataset.synth\n    with: {imagez: 3}\n", nil,
			"bad.yaml:5:", "with.imagez: unknown parameter for dataset.synth", `did you mean "images"`),
		wfErr("WorkflowParamBelowMin", "param below its minimum", "name: w\nstages:\n  data:\n    uses: dataset.synth\n    with: {min_size: -4}\n", nil,
			"bad.yaml:5:", "with.min_size: bad value: -4 is below the minimum 32"),
		wfErr("WorkflowUnknownNeeds", "needs an undeclared stage", "name: w\nstages:\n  data:\n    uses: dataset.synth\n    needs: [nosuch]\n", nil,
			"bad.yaml:5:", `needs: unknown stage "nosuch"`),
		wfErr("WorkflowDuplicateID", "stage id twice", "name: w\nstages:\n  data:\n    uses: dataset.synth\n  data:\n    uses: tokenize\n", nil,
			"bad.yaml:5:3", "duplicate stage id"),
		wfErr("WorkflowEmpty", "zero-byte workflow file", "", nil, "bad.yaml:1:1", "empty workflow file"),
		wfErr("WorkflowManyErrors", "several problems at once", "name: w\nstages:\n  data:\n    uses: dataset.synth\n    with: {images: x, imagez: 3}\n    needs: [nosuch]\n", nil,
			"with.images", "with.imagez", `unknown stage "nosuch"`),
		wfErr("SetMalformed", "--set without =", synth, []string{"--set", "data.images"}, "--set data.images: want STAGE.PARAM=VALUE or params.NAME=VALUE"),
		wfErr("SetUnknownStage", "--set on a missing stage", synth, []string{"--set", "nost.images=3"}, `--set nost.images=3: unknown stage "nost"`),
		wfErr("SetUnknownParam", "--set of a misspelt param", synth, []string{"--set", "data.imagess=3"}, `unknown parameter "imagess" for dataset.synth`, `did you mean "images"`),
		wfErr("SetBadType", "--set value of the wrong type", synth, []string{"--set", "data.images=abc"}, `--set data.images: stage "data": with.images: bad value: want an integer, got "abc"`),
		wfErr("RunOnlyUnknownStage", "--only names no stage", synth, []string{"--only", "nosuch"}, "--only nosuch: unknown stage"),
		{name: "WorkflowMissingFile", input: "workflow path does not exist", stage: "workflow", exit: 2, want: []string{"open ", "nonexistent.yaml: no such file or directory"},
			setup: func(t *testing.T, dir, wd string) []string {
				return []string{"run", filepath.Join(dir, "nonexistent.yaml"), "--workdir", wd}
			}},

		// Images: counted skips (dataset.flickr8k info.issues, features.regions info.failed_by_reason).
		img("ImageTruncatedJPEG", "JPEG cut to 60%", map[string][]byte{"bad.jpg": jpg[:len(jpg)*6/10]}, 0,
			[]string{`msg="image skipped"`, "reason=corrupt", "Flicker8k_Dataset/bad.jpg: jpeg data: invalid JPEG format: short Huffman data"}, "features", "failed_by_reason", "corrupt"),
		img("ImageZeroByte", "zero-byte .jpg", map[string][]byte{"bad.jpg": {}}, 0,
			[]string{"kind=unreadable_images count=1", "Flicker8k_Dataset/bad.jpg: zero-byte file"}, "data", "issues", "unreadable_images", "count"),
		img("ImageTextAsJPEG", "text file named .jpg", map[string][]byte{"bad.jpg": []byte("this is not an image\n")}, 0,
			[]string{"kind=unreadable_images count=1", "Flicker8k_Dataset/bad.jpg: image: unknown format"}, "data", "issues", "unreadable_images", "count"),
		img("ImageWrongExtension", "PNG named .jpg (decoded by content)", map[string][]byte{"bad.jpg": pngBytes(t, 7)}, 0,
			[]string{"6 images -> 6 feature rows"}, "features", "extension_mismatch"),
		img("ImageHugePNGHeader", "PNG header declaring 100000x100000", map[string][]byte{"bad.png": hugePNGHeader(t)}, 0,
			[]string{"reason=too_large", "Flicker8k_Dataset/bad.png: 100000x100000 = 10000000000 pixels exceeds max_pixels 50000000"}, "features", "failed_by_reason", "too_large"),
		img("ImageMissingFile", "listed image absent", map[string][]byte{"bad.jpg": nil}, 0,
			[]string{"kind=missing_images count=1 examples=[bad.jpg]"}, "data", "issues", "missing_images", "count"),
		{name: "ImageMissingStrict", input: "listed image absent, strict: true", stage: "dataset.flickr8k", exit: 1,
			want: []string{"missing_images: bad.jpg (strict: true; set strict: false to skip and count)"},
			setup: func(t *testing.T, dir, wd string) []string {
				images := goodImages(t)
				images["bad.jpg"] = nil
				src := flickr8kDir(t, filepath.Join(dir, "f8k"), images, "")
				return wfFile(t, dir, wd, stageWF("strict", fmt.Sprintf("  data:\n    uses: dataset.flickr8k\n    with: {source: \"dir:%s\", strict: true}\n", src)))
			}},
		{name: "ImageFailFraction", input: "corrupt image with max_fail_fraction 0", stage: "features.regions", exit: 1,
			// The error must say which image failed and why: bad.jpg, corrupt.
			want: []string{"1 of 6 images failed, more than max_fail_fraction 0 (corrupt: 1): ",
				"Flicker8k_Dataset/bad.jpg (corrupt: ", "Flicker8k_Dataset/bad.jpg: jpeg data: invalid JPEG format: short Huffman data)"},
			setup: func(t *testing.T, dir, wd string) []string {
				images := goodImages(t)
				images["bad.jpg"] = jpg[:len(jpg)/2]
				src := flickr8kDir(t, filepath.Join(dir, "f8k"), images, "")
				return wfFile(t, dir, wd, stageWF("failfrac", fmt.Sprintf(`  data:
    uses: dataset.flickr8k
    with: {source: "dir:%s"}
  features:
    uses: features.regions
    needs: [data]
    with: {regions: 1, short_side: 32, max_fail_fraction: 0}
`, src)))
			}},
		{name: "Flickr8kTokenNoTab", input: "caption line without a tab", stage: "dataset.flickr8k", exit: 1,
			want: []string{"Flickr8k.token.txt:26: want NAME#K<TAB>caption, found no tab"},
			setup: func(t *testing.T, dir, wd string) []string {
				src := flickr8kDir(t, filepath.Join(dir, "f8k"), goodImages(t), "good0.png#5 a caption without a tab\n")
				return wfFile(t, dir, wd, stageWF("notab", fmt.Sprintf("  data:\n    uses: dataset.flickr8k\n    with: {source: \"dir:%s\"}\n", src)))
			}},

		// Karpathy split JSON (dataset.f30k).
		karpathy("KarpathyTruncatedJSON", "split JSON cut in half", func(j string) string { return j[:len(j)/2] }, 1,
			"dataset_flickr30k.json: at byte 271: images[1]: unexpected EOF"),
		karpathy("KarpathyNoImagesArray", `JSON object without "images"`, func(string) string { return `{"dataset": "flickr30k"}` }, 1,
			`dataset_flickr30k.json: at byte 23: no "images" array`),
		karpathy("KarpathyImageNoSplit", "an image entry without split", func(j string) string { return strings.Replace(j, `"split": "train", `, "", 1) }, 1,
			"dataset_flickr30k.json: at byte 252: images[0] (0.jpg): no split"),
		karpathy("KarpathyMissingImage", "JSON lists an image that is not on disk", func(j string) string {
			return strings.TrimSuffix(j, `]}`) + `, {"filename": "absent.jpg", "split": "train", "sentences": [{"raw": "a thing"}]}]}`
		}, 0, "kind=missing_images count=1", "flickr30k-images/absent.jpg"),

		// Archives through the download stage (a local path as url).
		download("ZipDotDot", "zip entry ../evil", "evil.zip", zipBytes(t, entry{name: "ok.txt", body: []byte("ok")}, entry{name: "../evil.txt", body: []byte("x")}), "name: evil.zip",
			"files/evil.zip: ", `entry "../evil.txt": '..' element: unsafe path in archive`),
		download("ZipAbsolutePath", "zip entry /tmp/evil", "abs.zip", zipBytes(t, entry{name: "/tmp/coderflow-evil.txt", body: []byte("x")}), "name: abs.zip",
			"files/abs.zip: ", `entry "/tmp/coderflow-evil.txt": absolute path: unsafe path in archive`),
		download("TarEscapingSymlink", "tar symlink -> ../../etc", "link.tar.gz", tarGzBytes(t, entry{name: "data/link", link: "../../../etc"}, entry{name: "data/link/passwd", body: []byte("x")}), "name: link.tar.gz",
			"files/link.tar.gz: ", `link "data/link" -> "../../../etc": points outside the target directory: unsafe path in archive`),
		download("ZipBombRatio", "zip expanding 8 MiB of zeros, max_ratio 10", "bomb.zip", zipBytes(t, entry{name: "zeros.bin", body: make([]byte, 8<<20)}), "name: bomb.zip, max_ratio: 10",
			"files/bomb.zip: ", `entry "zeros.bin" declares 8388608 bytes, over the remaining limit `, "archive expands beyond the limits (decompression bomb?)"),
		download("ZipBombBytes", "zip over max_bytes", "big.zip", zipBytes(t, entry{name: "zeros.bin", body: make([]byte, 2<<20)}), "name: big.zip, max_bytes: 1000000",
			"files/big.zip: ", `entry "zeros.bin" declares 2097152 bytes, over the remaining limit 1000000: archive expands beyond the limits (decompression bomb?)`),
		download("TarGzTruncated", "tar.gz cut in half", "cut.tar.gz", func() []byte {
			b := tarGzBytes(t, entry{name: "a.bin", body: []byte(strings.Repeat("coderflow reliability ", 20000))})
			return b[:len(b)/2]
		}(), "name: cut.tar.gz", `files/cut.tar.gz: entry "a.bin": unexpected EOF`),
		{name: "LocalFileMissing", input: "url names a missing local file", stage: "download", exit: 2, want: []string{`bad.yaml:5:17: stage "get": with.url: stat `, "missing.bin: no such file or directory"},
			setup: func(t *testing.T, dir, wd string) []string {
				return wfFile(t, dir, wd, stageWF("missing", fmt.Sprintf("  get:\n    uses: download\n    with: {url: %q}\n", filepath.Join(dir, "missing.bin"))))
			}},

		// HTTP faults from a local server.
		// (The URLs contain the case's path, e.g. /500: the excerpts must
		// be longer than that to test the message.)
		httpGet("HTTP500", "server answers 500", "/500", "name: f.bin",
			"download f.bin: ", "/500: giving up after 2 attempts: HTTP 500 Internal Server Error", `msg="retrying download"`),
		withAbsent(httpGet("HTTP404", "server answers 404", "/404", "name: f.bin", "download f.bin: ", "/404: HTTP 404 Not Found"),
			"retrying download", "giving up after"),
		httpGet("HTTPWrongSHA256", "file differs from sha256", "/file", fmt.Sprintf("name: f.bin, sha256: %q", strings.Repeat("ab", 32)),
			"/file: checksum mismatch: sha256 bf1b47", ", want abab"),
		httpGet("HTTPWrongSize", "file differs from size", "/file", "name: f.bin, size: 999",
			"/file: checksum mismatch: size 2000 announced by the server, want 999"),
		httpGet("HTTPShortBody", "body shorter than Content-Length", "/short", "name: f.bin",
			"download f.bin: ", "/short: giving up after 2 attempts: after 100 bytes: unexpected EOF",
			"server sent the whole file, not the rest (no Range support, or the file changed); restarting"),

		// SCAN precomp: .npy and caption files.
		precomp("NpyBadMagic", ".npy without the \\x93NUMPY magic", npyBytes("\x93NUMPX", "<f4", false, []int{3, 4, 6}, f32(72)), 15, 1, `npy: `, `train_ims.npy: at byte 0: bad magic "\x93NUMPX", not a .npy file`),
		precomp("NpyWrongDtype", ".npy of int32", npyBytes("\x93NUMPY", "<i4", false, []int{3, 4, 6}, f32(72)), 15, 1, `train_ims.npy: at byte 10: dtype "<i4" is not supported (want float32 '<f4' or float64 '<f8')`),
		precomp("NpyTruncated", ".npy data cut short", npyBytes("\x93NUMPY", "<f4", false, []int{3, 4, 6}, f32(50)), 15, 1, "train_ims.npy: at byte 328: file is 328 bytes, shape [3 4 6] of <f4 needs 416"),
		precomp("NpyFortranOrder", ".npy in Fortran order", npyBytes("\x93NUMPY", "<f4", true, []int{3, 4, 6}, f32(72)), 15, 1, "train_ims.npy: at byte 10: fortran_order is True; only C-order arrays can be streamed by rows"),
		precomp("NpyBadHeader", ".npy header not a dict", append([]byte("\x93NUMPY\x01\x00\x08\x00garbage\n"), f32(8)...), 15, 1, `train_ims.npy: at byte 10: header "garbage": want '{'`),
		precomp("CapsWrongLineCount", "14 caption lines for 3 images", goodNpy(), 14, 1, "train_caps.txt: 14 lines is not 5 captions per image"),
		precomp("CapsRowsMismatch", "3 npy rows for 4 images' captions", goodNpy(), 20, 1, "train_ims.npy has 3 rows but ", "train_caps.txt has 20 captions: want one row per image (4) or per caption"),

		// Parquet given to `coderflow inspect`.
		inspect("ParquetTruncated", "Parquet file cut in half", func(t *testing.T, wd string) []byte {
			files, _ := filepath.Glob(filepath.Join(wd, "cache", "dataset.synth", "*", "captions.parquet"))
			if len(files) == 0 {
				t.Fatal("no cached captions.parquet in the guard workdir")
			}
			b, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			return b[:len(b)/2]
		}, "bad.parquet: a truncated or corrupted Parquet file: it starts with the PAR1 magic but does not end with it (an interrupted write or copy?)"),
		inspect("ParquetNotParquet", "CSV text named .parquet", func(*testing.T, string) []byte { return []byte("a,b\n1,2\n") }, "bad.parquet: not a Parquet file (it does not start with the PAR1 magic)"),
		inspect("ParquetZeroByte", "zero-byte .parquet", func(*testing.T, string) []byte { return nil }, "bad.parquet: not a readable Parquet file: 0 bytes is too short for one"),

		// ConceptNet CSV (when kg.conceptnet is registered in the CLI).
		csv("ConceptNetMalformedStrict", "3 malformed lines, max_bad_fraction 0", "cn.csv", conceptNetCSV(3), "max_bad_fraction: 0", 1,
			"kg.conceptnet: 3 of 11 lines (0.2727) are malformed, above max_bad_fraction 0; first: ",
			"cn.csv:9: want 5 tab-separated fields (uri, rel, start, end, json), got 1"),
		{name: "ConceptNetMalformedCounted", input: "1 malformed line in 9, max_bad_fraction 0.5", stage: "kg.conceptnet", exit: 0, needs: []string{"kg.conceptnet"},
			skipStage: "kg", skipInfo: []string{"bad_lines"}, info: []string{`"bad_samples":[{"file":"`, `cn.csv","line":9,"reason":"want 5 tab-separated fields`},
			want: []string{`msg="malformed line skipped"`, "cn.csv line=9 "},
			setup: func(t *testing.T, dir, wd string) []string {
				p := write(t, filepath.Join(dir, "cn.csv"), conceptNetCSV(1))
				return wfFile(t, dir, wd, stageWF("cncount", fmt.Sprintf("  kg:\n    uses: kg.conceptnet\n    with: {source: %q, max_bad_fraction: 0.5}\n", p)))
			}},
		csv("ConceptNetEmpty", "zero-byte CSV", "empty.csv", nil, "max_bad_fraction: 0", 1, "kg.conceptnet: source ", "empty.csv is empty"),
		csv("ConceptNetGzipCut", "csv.gz cut in half", "cn.csv.gz", func() []byte {
			b := gzipBytes([]byte(strings.Repeat(string(goodCSV), 200)))
			return b[:len(b)/2]
		}(), "max_bad_fraction: 0", 1, "kg.conceptnet: kg: ", "cn.csv.gz: after line ", ": unexpected EOF"),
	}
}

// withAbsent returns c that must also not print any of absent.
func withAbsent(c badCase, absent ...string) badCase {
	c.absent = absent
	return c
}

// TestBadInputs runs the catalogue: each bad input must exit with the
// expected code and a message naming the file or position (or a counted
// skip), never panic, and leave the guard workflow's cached artifacts
// intact.
func TestBadInputs(t *testing.T) {
	fileBody := []byte(strings.Repeat("coderflow http body\n", 100))
	mux := http.NewServeMux()
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) })
	mux.HandleFunc("/404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) { w.Write(fileBody) })
	mux.HandleFunc("/short", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(fileBody)))
		w.Write(fileBody[:100])
		// Returning with fewer bytes than declared makes the server close the connection.
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	kinds := registeredKinds(t)
	wd := filepath.Join(t.TempDir(), "wd")
	guard := write(t, filepath.Join(t.TempDir(), "guard.yaml"), []byte(guardWF))
	mustRun(t, "run", guard, "--workdir", wd, "--no-progress")
	guardKeys := map[string]string{}
	for _, s := range states(t, guard, wd) {
		guardKeys[s.Stage] = s.Key
	}

	for _, c := range badCases(t, srv) {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range c.needs {
				if !kinds[k] {
					t.Skipf("stage kind %s is not registered in the coderflow binary", k)
				}
			}
			args := c.setup(t, t.TempDir(), wd)
			r := cf(t, t.Context(), "", args...)
			out := r.all()
			if r.code != c.exit {
				t.Errorf("exit %d, want %d", r.code, c.exit)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, w := range c.absent {
				if strings.Contains(out, w) {
					t.Errorf("output contains %q", w)
				}
			}
			if c.skipStage != "" {
				checkCountedSkip(t, args[1], wd, c.skipStage, c.skipInfo, c.info)
			}
			if t.Failed() || os.Getenv("RELIABILITY_VERBOSE") != "" {
				t.Logf("coderflow %s\n%s", strings.Join(args, " "), out)
			}
			// Nothing already cached is lost or damaged.
			verifyCache(t, wd)
			for _, s := range states(t, guard, wd) {
				if s.Status != pipeline.StatusCached || s.Key != guardKeys[s.Stage] {
					t.Errorf("guard stage %s is %s (%s) after the bad input", s.Stage, s.Status, s.Reason)
				}
			}
		})
	}
}

// checkCountedSkip asserts that stage's manifest info holds a positive
// number at path (a final "count" is looked up inside an issues entry) and,
// as JSON, contains every string of want.
func checkCountedSkip(t *testing.T, wf, wd, stage string, path, want []string) {
	t.Helper()
	for _, s := range states(t, wf, wd) {
		if s.Stage != stage {
			continue
		}
		m, err := readManifest(s.Dir)
		if err != nil {
			t.Errorf("stage %s: %v", stage, err)
			return
		}
		js, err := json.Marshal(m.Info)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(string(js), w) {
				t.Errorf("stage %s: info lacks %q (info: %s)", stage, w, js)
			}
		}
		var v any = m.Info
		for _, p := range path {
			mm, ok := v.(map[string]any)
			if !ok {
				t.Errorf("stage %s: info has no %s (info: %v)", stage, strings.Join(path, "."), m.Info)
				return
			}
			v = mm[p]
		}
		if n, ok := v.(float64); !ok || n < 1 {
			t.Errorf("stage %s: info.%s = %v, want a count >= 1 (info: %v)", stage, strings.Join(path, "."), v, m.Info)
		}
		return
	}
	t.Errorf("no stage %s in %s", stage, wf)
}

// TestDiskFull fills a 2 MiB tmpfs workdir (needs root and mount; skipped
// otherwise): the run must fail with ENOSPC, leave no artifact that looks
// complete, and keep the artifact cached before.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.MkdirAll(mnt, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to simulate a full disk (%v: %s): disk-full test skipped", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
		}
	})
	wd := filepath.Join(mnt, "wd")
	guard := write(t, filepath.Join(dir, "guard.yaml"), []byte(guardWF))
	mustRun(t, "run", guard, "--workdir", wd, "--no-progress")
	big := write(t, filepath.Join(dir, "big.yaml"), []byte(`name: big
stages:
  data:
    uses: dataset.synth
    with: {images: 400, min_size: 96, max_size: 96, seed: 2}
`))
	r := cf(t, context.Background(), "", "run", big, "--workdir", wd, "--no-progress")
	if r.code != 1 || !strings.Contains(r.all(), "no space left on device") {
		t.Errorf("full disk: exit %d, want 1 with \"no space left on device\":\n%s", r.code, r.all())
	}
	verifyCache(t, wd)
	for _, s := range states(t, guard, wd) {
		if s.Status != pipeline.StatusCached {
			t.Errorf("guard stage %s is %s after the disk filled", s.Stage, s.Status)
		}
	}
	for _, s := range states(t, big, wd) {
		if s.Status == pipeline.StatusCached {
			t.Errorf("stage %s of the failed run is cached", s.Stage)
		}
	}
}
