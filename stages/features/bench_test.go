package features

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"coderflow/datasets/arrowfeat"
	"coderflow/datasets/table"
	"coderflow/internal/testenv"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
	"coderflow/stages/features/descriptor"
)

// BenchmarkOneImage is the per-image hot path on one goroutine: decode,
// resize to 256 px, 36-region descriptor (flickr8k-1k photos, cycled).
func BenchmarkOneImage(b *testing.B) {
	photos := flickrPhotos(b)[:50]
	ex, _ := descriptor.NewExtractor(descriptor.Config{})
	rs, _ := newResizer("approxbilinear")
	var boxes, feats []float32
	br := bufio.NewReaderSize(nil, 64<<10)
	i := 0
	for b.Loop() {
		d, err := load(photos[i%len(photos)], 1<<30, br)
		if err != nil {
			b.Fatal(err)
		}
		i++
		bd := d.img.Bounds()
		w, h := targetSize(bd.Dx(), bd.Dy(), 256)
		boxes, feats = ex.Image(rs.resize(d.img, w, h), boxes[:0], feats[:0])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "img/s")
}

// mogrify finds ImageMagick's mogrify (Debian names it mogrify-im6.q16; a
// shell stand-in may shadow the plain name, so the versioned one wins).
func mogrify(b *testing.B) string {
	for _, name := range []string{"mogrify-im6.q16", "mogrify-im7", "mogrify"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	b.Skip("ImageMagick mogrify not installed (Debian package imagemagick): benchmark skipped")
	return ""
}

// BenchmarkStageVsImageMagick runs, side by side on the same 875 JPEGs, the
// whole features.regions stage (decode, resize to 256, 36 descriptors,
// Parquet write; workers = GOMAXPROCS) and ImageMagick's batch
// `mogrify -resize 256x256^` in one process (decode, resize, JPEG encode),
// once with its default threads and once with -limit thread 1.
func BenchmarkStageVsImageMagick(b *testing.B) {
	photos := flickrPhotos(b)
	mog := mogrify(b)
	in := imagesArtifact(b, photos, 1)
	var stageSec, imSec, im1Sec float64
	var stageCPU, imCPU, im1CPU float64 // CPU seconds: robust when the machine is shared
	for b.Loop() {
		t0, c0 := time.Now(), testenv.CPUTime().Seconds()
		pipelinetest.RunStage(b, &Spec, map[string]any{}, in)
		stageSec += time.Since(t0).Seconds()
		stageCPU += testenv.CPUTime().Seconds() - c0
		for _, threads := range []string{"", "1"} {
			out := b.TempDir()
			args := []string{"-path", out, "-resize", "256x256^"}
			if threads != "" {
				args = append([]string{"-limit", "thread", threads}, args...)
			}
			cmd := exec.Command(mog, append(args, photos...)...)
			t1 := time.Now()
			if msg, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%s: %v\n%s", mog, err, msg)
			}
			cpu := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
			if threads == "" {
				imSec += time.Since(t1).Seconds()
				imCPU += cpu
			} else {
				im1Sec += time.Since(t1).Seconds()
				im1CPU += cpu
			}
		}
	}
	n := float64(b.N * len(photos))
	b.ReportMetric(n/stageSec, "stage_img/s")
	b.ReportMetric(n/imSec, "mogrify_img/s")
	b.ReportMetric(n/im1Sec, "mogrify1t_img/s")
	b.ReportMetric(imSec/stageSec, "x_vs_mogrify")
	b.ReportMetric(im1Sec/stageSec, "x_vs_mogrify1t")
	b.ReportMetric(n/stageCPU, "stage_img/cpu-s")
	b.ReportMetric(n/imCPU, "mogrify_img/cpu-s")
	b.ReportMetric(n/im1CPU, "mogrify1t_img/cpu-s")
}

// featureRows runs the stage once on the photos and returns its shards and
// rows (for the Parquet benchmarks).
func featureRows(b testing.TB) ([]string, []table.FeatureRow) {
	in := imagesArtifact(b, flickrPhotos(b), 1)
	a := pipelinetest.RunStage(b, &Spec, map[string]any{}, in)
	files, _ := a.Table(table.Features)
	return files, readFeatures(b, a)
}

func rawBytes(rows []table.FeatureRow) float64 {
	var n float64
	for _, r := range rows {
		n += 16 + 4*float64(len(r.Boxes)+len(r.Feats))
	}
	return n
}

const duckBenchJS = `
const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
  const files = JSON.parse(process.argv[1]);
  const out = process.argv[2];
  const res = {};
  const list = '[' + files.map(f => "'" + f.replace(/'/g, "''") + "'").join(',') + ']';
  for (const threads of [1, 2]) {
    const inst = await DuckDBInstance.create(':memory:', { threads: String(threads) });
    const con = await inst.connect();
    const cpuMs = c => (c.user + c.system) / 1e3;
    let t = process.hrtime.bigint(), c = process.cpuUsage();
    await con.run('CREATE TABLE t AS SELECT * FROM read_parquet(' + list + ')');
    res['read_ms_' + threads] = Number(process.hrtime.bigint() - t) / 1e6;
    res['read_cpu_ms_' + threads] = cpuMs(process.cpuUsage(c));
    t = process.hrtime.bigint(); c = process.cpuUsage();
    await con.run("COPY t TO '" + out + threads + ".parquet' (FORMAT parquet, COMPRESSION zstd)");
    res['write_ms_' + threads] = Number(process.hrtime.bigint() - t) / 1e6;
    res['write_cpu_ms_' + threads] = cpuMs(process.cpuUsage(c));
    con.closeSync && con.closeSync();
  }
  console.log(JSON.stringify(res));
})().catch(e => { console.error(e); process.exit(1); });
`

// BenchmarkParquetVsDuckDB writes the stage's 875 feature rows with the
// stage's writer (cfg.shardOptions: parquet-go, zstd fastest, 256-row groups
// compressed on GOMAXPROCS goroutines, no min/max statistics on the float
// columns) and reads them back with
// the Arrow reader, side by side with DuckDB (threads 1 and 2) writing the
// same rows with COPY ... TO (zstd) from an in-memory table and reading the
// stage's shards into a table. MB/s are raw logical bytes (16 + 4 per
// float) over wall time.
func BenchmarkParquetVsDuckDB(b *testing.B) {
	files, rows := featureRows(b)
	mb := rawBytes(rows) / 1e6
	dir := b.TempDir()
	var wSec, rSec, pSec float64
	var duck struct {
		R1 float64 `json:"read_ms_1"`
		R2 float64 `json:"read_ms_2"`
		W1 float64 `json:"write_ms_1"`
		W2 float64 `json:"write_ms_2"`
		// CPU time of the node process (all DuckDB threads)
		RC1 float64 `json:"read_cpu_ms_1"`
		RC2 float64 `json:"read_cpu_ms_2"`
		WC1 float64 `json:"write_cpu_ms_1"`
		WC2 float64 `json:"write_cpu_ms_2"`
	}
	var d1r, d2r, d1w, d2w float64
	var wCPU, rCPU, dc1r, dc1w float64 // CPU seconds: robust when the machine is shared
	// The stage's shard writer with default params (zstd fastest, 256-row
	// groups compressed on GOMAXPROCS goroutines).
	cfg := config{codec: newZstdCodec(zstd.SpeedFastest), rowGroup: 256, workers: runtime.GOMAXPROCS(0), reuse: new(table.Reuse)}
	opts := cfg.shardOptions(len(rows))
	for b.Loop() {
		// Each Go side starts from a collected heap, so that neither pays
		// for the garbage of the one before (DuckDB runs in its own process).
		runtime.GC()
		t0, c0 := time.Now(), testenv.CPUTime().Seconds()
		if err := table.WriteFile(filepath.Join(dir, "go.parquet"), nil, table.Features, opts, rows); err != nil {
			b.Fatal(err)
		}
		wSec += time.Since(t0).Seconds()
		wCPU += testenv.CPUTime().Seconds() - c0
		runtime.GC()
		t0, c0 = time.Now(), testenv.CPUTime().Seconds()
		mem := memory.NewGoAllocator()
		r, err := arrowfeat.NewReader(mem, files, arrowfeat.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			rec, err := r.Next(context.Background())
			if err != nil {
				break
			}
			rec.Release()
		}
		r.Close()
		rSec += time.Since(t0).Seconds()
		rCPU += testenv.CPUTime().Seconds() - c0
		t0 = time.Now()
		if err := table.Scan(context.Background(), files, 256, func([]table.FeatureRow) error { return nil }); err != nil {
			b.Fatal(err)
		}
		pSec += time.Since(t0).Seconds()
		fj, _ := json.Marshal(files)
		out := duckdb(b, duckBenchJS, string(fj), filepath.Join(dir, "duck"))
		if err := json.Unmarshal(out, &duck); err != nil {
			b.Fatalf("%s: %v", out, err)
		}
		d1r += duck.R1 / 1e3
		d2r += duck.R2 / 1e3
		d1w += duck.W1 / 1e3
		d2w += duck.W2 / 1e3
		dc1r += duck.RC1 / 1e3
		dc1w += duck.WC1 / 1e3
	}
	n := float64(b.N)
	b.ReportMetric(mb*n/wSec, "go_write_MB/s")
	b.ReportMetric(mb*n/d1w, "duck1_write_MB/s")
	b.ReportMetric(mb*n/d2w, "duck2_write_MB/s")
	b.ReportMetric(min(d1w, d2w)/wSec, "x_write_vs_best_duck")
	b.ReportMetric(mb*n/rSec, "arrow_read_MB/s")
	b.ReportMetric(mb*n/pSec, "pgo_read_MB/s")
	b.ReportMetric(mb*n/d1r, "duck1_read_MB/s")
	b.ReportMetric(mb*n/d2r, "duck2_read_MB/s")
	b.ReportMetric(min(d1r, d2r)/rSec, "x_read_vs_best_duck")
	b.ReportMetric(mb*n/wCPU, "go_write_MB/cpu-s")
	b.ReportMetric(mb*n/dc1w, "duck1_write_MB/cpu-s")
	b.ReportMetric(mb*n/rCPU, "arrow_read_MB/cpu-s")
	b.ReportMetric(mb*n/dc1r, "duck1_read_MB/cpu-s")
	if st, err := os.Stat(filepath.Join(dir, "go.parquet")); err == nil {
		b.ReportMetric(float64(st.Size())/1e6, "go_file_MB")
		b.ReportMetric(mb, "raw_MB")
	}
}

// TestRSSChild is the child process of BenchmarkPeakRSS: it runs the stage
// on the images artifact in $CODERFLOW_FEATURES_RSS_INPUT (made by the
// parent, so the child measures the stage alone) and prints its peak RSS.
func TestRSSChild(t *testing.T) {
	dir := os.Getenv("CODERFLOW_FEATURES_RSS_INPUT")
	if dir == "" {
		t.Skip("child of BenchmarkPeakRSS")
	}
	in, err := pipeline.OpenArtifact(dir)
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string]any{}
	if v := os.Getenv("CODERFLOW_FEATURES_RSS_SHARD_ROWS"); v != "" {
		n, _ := strconv.Atoi(v)
		raw["shard_rows"] = n
	}
	a := pipelinetest.RunStage(t, &Spec, raw, in)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("HeapSys=%d HeapReleased=%d HeapInuse=%d StackSys=%d Sys=%d NumGC=%d\n", ms.HeapSys>>20, ms.HeapReleased>>20, ms.HeapInuse>>20, ms.StackSys>>20, ms.Sys>>20, ms.NumGC)
	// VmHWM, not getrusage: Linux carries ru_maxrss across exec, so a child
	// of a big benchmark process would report its parent's peak.
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	var kb int64
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			fmt.Sscanf(strings.TrimPrefix(line, "VmHWM:"), "%d", &kb)
		}
	}
	fmt.Printf("RSS_KB=%d ROWS=%d\n", kb, a.TableRows(table.Features))
}

// BenchmarkPeakRSS compares the peak RSS of a process running the stage on
// 875 and on 8,750 images (the list repeated 10 times).
func BenchmarkPeakRSS(b *testing.B) {
	photos := flickrPhotos(b)
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	inputs := map[int]*pipeline.Artifact{1: imagesArtifact(b, photos, 1), 10: imagesArtifact(b, photos, 10)}
	rss := func(repeat int) (float64, float64) {
		cmd := exec.Command(exe, "-test.run=^TestRSSChild$", "-test.v")
		cmd.Env = append(os.Environ(), "CODERFLOW_FEATURES_RSS_INPUT="+inputs[repeat].Dir)
		t0 := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		sec := time.Since(t0).Seconds()
		var kb, rows int64
		for _, line := range strings.Split(string(out), "\n") {
			if _, err := fmt.Sscanf(line, "RSS_KB=%d ROWS=%d", &kb, &rows); err == nil {
				break
			}
		}
		if rows != int64(len(photos)*repeat) {
			b.Fatalf("repeat %d: %d rows\n%s", repeat, rows, out)
		}
		return float64(kb) / 1024, float64(rows) / sec
	}
	for b.Loop() {
		small, _ := rss(1)
		big, rate := rss(10)
		b.ReportMetric(small, "rss875_MiB")
		b.ReportMetric(big, "rss8750_MiB")
		b.ReportMetric(big/small, "rss_ratio")
		b.ReportMetric(rate, "img/s_8750")
	}
}
