package eval

import (
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"coderflow/internal/blasimpl"
	"coderflow/internal/testenv"
)

// BenchmarkRecallK5K is the 5,000 x 25,000 x 1,024 COCO-5K-sized evaluation
// (both directions) next to its anchor, the blocked GEMM alone (the same
// blocks, no ranking), in the same run. It reports both times (the best of
// the iterations, as the machine is shared), their ratio
// and memory: alloc_MiB is the heap allocated by Evaluate (an upper bound on
// its extra peak heap), peak_heap_MiB the largest live heap sampled during
// Evaluate (inputs included), *_cpu_s the process CPU time of each side, peak_rss_MiB the process's peak RSS (VmHWM, inputs
// included). Run: go test ./train/eval -run '^$' -bench RecallK5K -benchtime 1x
// (add -tags openblas with CGO_LDFLAGS=-lopenblas for OpenBLAS).
func BenchmarkRecallK5K(b *testing.B) {
	const n, d = 5000, 1024
	r := rand.New(rand.NewPCG(11, 12))
	img := randUnit(r, n, d)
	caps := randUnit(r, 5*n, d)
	for q := range 5 * n {
		for k := range d {
			caps[q*d+k] = caps[q*d+k]*8 + img[(q/5)*d+k]
		}
	}
	caps = renorm(caps, d)
	in := Inputs{N: n, Dim: d, Images: img, Captions: caps}
	opt := Options{}
	b.Logf("blas: %s, GOMAXPROCS %d", blasimpl.Name, runtime.GOMAXPROCS(0))
	runtime.GC()
	var gemmT, evalT, gemmC, evalC time.Duration
	var alloc, peakHeap uint64
	for b.Loop() {
		// anchor: the same blocks of the same size, GEMM only
		rows := min(n, int(DefaultMemBudget/int64(4*5*n)))
		buf := make([]float32, rows*5*n)
		c0 := testenv.CPUTime()
		t0 := time.Now()
		for i0 := 0; i0 < n; i0 += rows {
			rb := min(rows, n-i0)
			blas32.Gemm(blas.NoTrans, blas.Trans, 1,
				blas32.General{Rows: rb, Cols: d, Stride: d, Data: img[i0*d : (i0+rb)*d]},
				blas32.General{Rows: 5 * n, Cols: d, Stride: d, Data: caps},
				0, blas32.General{Rows: rb, Cols: 5 * n, Stride: 5 * n, Data: buf[:rb*5*n]})
		}
		gemmT = minDur(gemmT, time.Since(t0))
		gemmC = minDur(gemmC, testenv.CPUTime()-c0)
		buf = nil
		debug.FreeOSMemory()

		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		stop := make(chan struct{})
		peak := make(chan uint64)
		go samplePeakHeap(stop, peak)
		c1 := testenv.CPUTime()
		t1 := time.Now()
		res, err := Evaluate(b.Context(), in, opt)
		close(stop)
		peakHeap = max(peakHeap, <-peak)
		evalT = minDur(evalT, time.Since(t1))
		evalC = minDur(evalC, testenv.CPUTime()-c1)
		runtime.ReadMemStats(&ms1)
		if err != nil {
			b.Fatal(err)
		}
		alloc = ms1.TotalAlloc - ms0.TotalAlloc
		b.Logf("i2t %.1f/%.1f/%.1f t2i %.1f/%.1f/%.1f rsum %.1f", res.Mean.R1I2T, res.Mean.R5I2T, res.Mean.R10I2T,
			res.Mean.R1T2I, res.Mean.R5T2I, res.Mean.R10T2I, res.Mean.RSum)
	}
	b.ReportMetric(gemmT.Seconds(), "gemm_s")
	b.ReportMetric(evalT.Seconds(), "eval_s")
	b.ReportMetric(evalT.Seconds()/gemmT.Seconds(), "eval/gemm")
	b.ReportMetric(gemmC.Seconds(), "gemm_cpu_s")
	b.ReportMetric(evalC.Seconds(), "eval_cpu_s")
	b.ReportMetric(evalC.Seconds()/gemmC.Seconds(), "eval/gemm_cpu")
	b.ReportMetric(float64(alloc)/(1<<20), "alloc_MiB")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak_heap_MiB")
	b.ReportMetric(peakRSSMiB(), "peak_rss_MiB")
}

func minDur(a, b time.Duration) time.Duration {
	if a == 0 || b < a {
		return b
	}
	return a
}

func renorm(v []float32, d int) []float32 {
	for i := 0; i < len(v); i += d {
		var s float64
		for _, x := range v[i : i+d] {
			s += float64(x) * float64(x)
		}
		inv := float32(1 / math.Sqrt(s))
		for k := range d {
			v[i+k] *= inv
		}
	}
	return v
}

// samplePeakHeap samples the live heap (runtime/metrics) every 2 ms until
// stop is closed, then sends the maximum seen.
func samplePeakHeap(stop <-chan struct{}, peak chan<- uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var m uint64
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		metrics.Read(sample)
		m = max(m, sample[0].Value.Uint64())
		select {
		case <-stop:
			peak <- m
			return
		case <-t.C:
		}
	}
}

// peakRSSMiB reads VmHWM from /proc/self/status (0 where unavailable).
func peakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}
