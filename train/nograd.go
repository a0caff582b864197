package train

import (
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file holds everything computed without gradient, in plain Go: tensor
// fills, the key queues, the DCL log-weights (a row at a time, called by the
// DCL head) and masks, and Sinkhorn-Knopp.

// fill copies src into t, converting to t's dtype.
func fill(t *tensor.Dense, src []float32) {
	switch d := t.Data().(type) {
	case []float32:
		copy(d, src)
	case []float64:
		for i, x := range src {
			d[i] = float64(x)
		}
	default:
		panic("train: fill: unsupported dtype")
	}
}

// values returns a float32 copy of a node's value.
func values(n *G.Node) []float32 {
	switch d := n.Value().Data().(type) {
	case []float32:
		return append([]float32(nil), d...)
	case []float64:
		out := make([]float32, len(d))
		for i, x := range d {
			out[i] = float32(x)
		}
		return out
	default:
		panic("train: values: unsupported dtype")
	}
}

// scalar returns the value of a scalar node (0 for nil).
func scalar(n *G.Node) float64 {
	if n == nil {
		return 0
	}
	switch d := n.Value().Data().(type) {
	case float32:
		return float64(d)
	case float64:
		return d
	case []float32:
		return float64(d[0])
	case []float64:
		return d[0]
	}
	return math.NaN()
}

// matmulT returns a (n x k) = x (n x d) times y^T (k x d), all row-major.
func matmulT(x []float32, n int, y []float32, k, d int) []float32 {
	out := make([]float32, n*k)
	if n == 0 || k == 0 {
		return out
	}
	blas32.Gemm(blas.NoTrans, blas.Trans, 1,
		blas32.General{Rows: n, Cols: d, Stride: d, Data: x},
		blas32.General{Rows: k, Cols: d, Stride: d, Data: y},
		0, blas32.General{Rows: n, Cols: k, Stride: k, Data: out})
	return out
}

// queue is a FIFO ring buffer of K unit keys of dimension D, each tagged with
// the image id it came from. The keys are stored as the columns of a (D, K)
// tensor of the model's dtype, which is also the graph input: similarities
// q K are computed without copying or transposing the queue.
type queue struct {
	K, D  int
	t     *tensor.Dense // (D, K): column s is slot s
	ids   []int64       // K
	head  int           // next slot to write
	count int           // valid slots (<= K)
}

func newQueue(k, d int, dt tensor.Dtype) *queue {
	return &queue{K: k, D: d, t: tensor.New(tensor.Of(dt), tensor.WithShape(d, k)), ids: make([]int64, k)}
}

// push enqueues n keys (n*D, row-major) with their image ids, evicting the
// oldest. It writes row by row of the (D, K) storage (runs of consecutive
// slots), not key by key (a column: one cache line per element).
func (q *queue) push(keys []float32, ids []int64, n int) {
	if q == nil || q.K == 0 {
		return
	}
	for start := 0; start < n; {
		run := min(n-start, q.K-q.head) // slots up to the end of the ring
		switch d := q.t.Data().(type) {
		case []float32:
			pushRun(d, keys, q.D, q.K, q.head, start, run)
		case []float64:
			pushRun(d, keys, q.D, q.K, q.head, start, run)
		}
		for i := range run {
			q.ids[q.head+i] = ids[start+i]
		}
		q.head = (q.head + run) % q.K
		q.count = min(q.count+run, q.K)
		start += run
	}
}

// pushRun writes keys [start, start+run) into slots [head, head+run).
func pushRun[T float](d []T, keys []float32, D, K, head, start, run int) {
	for k := range D {
		row := d[k*K+head : k*K+head+run]
		for i := range row {
			row[i] = T(keys[(start+i)*D+k])
		}
	}
}

// valid reports whether slot s holds a key.
func (q *queue) valid(s int) bool {
	if q.count == q.K {
		return true
	}
	return s < q.head // before the first wrap, slots [0, head) are filled
}

// key returns a copy of the key in slot s.
func (q *queue) key(s int) []float32 {
	out := make([]float32, q.D)
	switch d := q.t.Data().(type) {
	case []float32:
		for k := range out {
			out[k] = d[k*q.K+s]
		}
	case []float64:
		for k := range out {
			out[k] = float32(d[k*q.K+s])
		}
	}
	return out
}

// f32 returns the (D, K) keys as float32 (the storage itself for float32).
func (q *queue) f32() []float32 {
	if d, ok := q.t.Data().([]float32); ok {
		return d
	}
	return denseF32(q.t)
}

// entries returns the valid keys' image ids from oldest to newest.
func (q *queue) entries() []int64 {
	out := make([]int64, 0, q.count)
	start := (q.head - q.count + q.K) % q.K
	for i := range q.count {
		out = append(out, q.ids[(start+i)%q.K])
	}
	return out
}

// keySet is the key set of one query direction: the B momentum keys of the
// batch followed by the K queue slots.
type keySet struct {
	B, K, D int
	batch   []float32 // B*D
	ids     []int64   // B
	q       *queue    // may be nil (K = 0)
}

func (ks keySet) n() int { return ks.B + ks.K }

// key returns key j (a row of length D) or nil for an empty queue slot.
func (ks keySet) key(j int) []float32 {
	if j < ks.B {
		return ks.batch[j*ks.D : (j+1)*ks.D]
	}
	s := j - ks.B
	if !ks.q.valid(s) {
		return nil
	}
	return ks.q.key(s)
}

// batchT returns the batch keys as a (D, B) matrix.
func (ks keySet) batchT() []float32 {
	B, D := ks.B, ks.D
	out := make([]float32, D*B)
	for j := range B {
		for d, x := range ks.batch[j*D : (j+1)*D] {
			out[d*B+j] = x
		}
	}
	return out
}

// sims returns the (B, N) similarities of B queries (B*D) with all keys
// (for logWeights, the reference of the DCL head's weights).
func (ks keySet) sims(queries []float32) []float32 {
	B, N, D := ks.B, ks.n(), ks.D
	out := make([]float32, B*N)
	blas32.Gemm(blas.NoTrans, blas.Trans, 1,
		blas32.General{Rows: B, Cols: D, Stride: D, Data: queries},
		blas32.General{Rows: B, Cols: D, Stride: D, Data: ks.batch},
		0, blas32.General{Rows: B, Cols: B, Stride: N, Data: out})
	if ks.K > 0 {
		blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
			blas32.General{Rows: B, Cols: D, Stride: D, Data: queries},
			blas32.General{Rows: D, Cols: ks.K, Stride: ks.K, Data: ks.q.f32()},
			0, blas32.General{Rows: B, Cols: ks.K, Stride: N, Data: out[B:]})
	}
	return out
}

// allowed reports whether key j is a negative for query i: not the positive,
// not an empty slot, not a key of the same image.
func (ks keySet) allowed(i, j int, ids []int64) bool {
	if j == i {
		return false
	}
	if j < ks.B {
		return ks.ids[j] != ids[i]
	}
	s := j - ks.B
	return ks.q.valid(s) && ks.q.ids[s] != ids[i]
}

// dclEps keeps the standardisation finite when all negatives are equally similar.
const dclEps = 1e-6

// logWeights returns the (B, N) log-weights of the DCL loss for B queries
// (queries B*D) against ks (the reference of dclWeightRow): 0 at the
// positive, bigNeg at excluded keys, and for negatives
// log w_ij = log|N_i| + z_ij - log sum_j' exp z_ij', z_ij = beta (c_ij - mu_i)/(sigma_i + eps).
// With vsepp set it returns the additive mask of the hinge loss instead
// (0 for negatives, bigNeg for the positive and excluded keys).
func logWeights(queries []float32, ks keySet, ids []int64, beta float64, vsepp bool, sims []float32) []float32 {
	B, N := ks.B, ks.n()
	out := make([]float32, B*N)
	var sim []float32
	if beta > 0 && !vsepp {
		sim = sims
		if sim == nil {
			sim = ks.sims(queries)
		}
	}
	parallelRows(B, func(lo, hi int) { logWeightRows(out, sim, ks, ids, beta, vsepp, lo, hi) })
	return out
}

// parallelRows runs f over [0, n) split into GOMAXPROCS contiguous row
// ranges (rows are independent, so the result does not depend on the split);
// fewer than 64 rows run inline.
func parallelRows(n int, f func(lo, hi int)) { parallelRange(n, 64, f) }

// parallelRange is parallelRows with a minimum n for going parallel.
func parallelRange(n, minN int, f func(lo, hi int)) {
	w := min(runtime.GOMAXPROCS(0), n)
	if w <= 1 || n < minN {
		f(0, n)
		return
	}
	// ranges 1..w-1 on new goroutines, range 0 on the caller's
	var wg sync.WaitGroup
	var p workerPanic
	for k := 1; k < w; k++ {
		lo, hi := k*n/w, (k+1)*n/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.catch()
			f(lo, hi)
		}()
	}
	func() {
		defer p.catch()
		f(0, n/w)
	}()
	wg.Wait() // also after a panic of range 0: no worker outlives the call
	p.rethrow()
}

// pair runs f(1) on a new goroutine and f(0) on the caller's and returns
// when both are done; a panic of either reaches the caller then.
func pair(f func(k int)) {
	var wg sync.WaitGroup
	var p workerPanic
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer p.catch()
		f(1)
	}()
	func() {
		defer p.catch()
		f(0)
	}()
	wg.Wait()
	p.rethrow()
}

// workerPanic carries a panic of a worker goroutine (or of the caller's
// own share of the work) to the goroutine that waits for the workers, where the train stage's recovery turns it into an error of
// the stage; a panic left in a worker goroutine would end the process.
type workerPanic struct {
	mu    sync.Mutex
	v     any
	stack []byte
}

// catch records the panic of the calling goroutine, if any; defer it.
func (p *workerPanic) catch() {
	if r := recover(); r != nil {
		p.mu.Lock()
		if p.v == nil {
			p.v, p.stack = r, debug.Stack()
		}
		p.mu.Unlock()
	}
}

// rethrow panics with the recorded panic, if any, and its worker's stack.
func (p *workerPanic) rethrow() {
	if p.v != nil {
		panic(fmt.Sprintf("%v (in a worker goroutine)\n%s", p.v, p.stack))
	}
}

// logWeightRows computes rows [lo, hi) of logWeights.
func logWeightRows(out, sim []float32, ks keySet, ids []int64, beta float64, vsepp bool, lo, hi int) {
	N := ks.n()
	z := make([]float64, N)
	for i := lo; i < hi; i++ {
		row := out[i*N : (i+1)*N]
		var n int
		var mu, ss float64
		for j := range N {
			if !ks.allowed(i, j, ids) {
				row[j] = bigNeg
				continue
			}
			n++
			if sim != nil {
				mu += float64(sim[i*N+j])
			}
		}
		if !vsepp {
			row[i] = 0
		}
		if sim == nil || n == 0 {
			continue
		}
		mu /= float64(n)
		for j := range N {
			if row[j] != bigNeg && j != i {
				d := float64(sim[i*N+j]) - mu
				ss += d * d
			}
		}
		sigma := math.Sqrt(ss / float64(n))
		m := math.Inf(-1)
		for j := range N {
			if row[j] != bigNeg && j != i {
				z[j] = beta * (float64(sim[i*N+j]) - mu) / (sigma + dclEps)
				m = math.Max(m, z[j])
			}
		}
		var se float64
		for j := range N {
			if row[j] != bigNeg && j != i {
				se += math.Exp(z[j] - m)
			}
		}
		lse := m + math.Log(se)
		logN := math.Log(float64(n))
		for j := range N {
			if row[j] != bigNeg && j != i {
				row[j] = float32(logN + z[j] - lse)
			}
		}
	}
}

// dclMask is what a DCL head needs besides its similarities to weight
// them: the keys of the step that are no negatives and the batch's image
// ids. prepare sets it every step (the queue's ids change every step).
type dclMask struct {
	ex  dclExcluded
	ids []int64
}

// dclExcluded lists the keys that are no negatives: invalid (empty queue
// slots) for every query, same[id] for the queries of image id.
type dclExcluded struct {
	invalid []int32
	same    map[int64][]int32
}

// dclExclusions returns the keys of ks that each query excludes: the empty
// queue slots (all queries) and the valid keys of the query's own image (a
// few per query; batch key i, the positive, is one of them).
func dclExclusions(ks keySet) dclExcluded {
	B, N := ks.B, ks.n()
	var invalid []int32
	same := make(map[int64][]int32, B)
	for _, id := range ks.ids {
		same[id] = nil
	}
	for j := range N {
		id := int64(0)
		if j < B {
			id = ks.ids[j]
		} else if s := j - B; ks.q.valid(s) {
			id = ks.q.ids[s]
		} else {
			invalid = append(invalid, int32(j))
			continue
		}
		if l, ok := same[id]; ok {
			same[id] = append(l, int32(j))
		}
	}
	return dclExcluded{invalid: invalid, same: same}
}

// dclWeightRow writes row i of the DCL log-weights of B queries, shifted
// per query as the DCL head's log-sum-exp expects, into db (B, B) for the
// batch keys and dq (B, K; nil without a queue) for the queue keys, from
// the queries' similarities with those keys, sb (B, B) and sq (B, K), with
// scratch (2 (B+K) float32) for the row's similarities and its exponent
// arguments. Row by row it is logWeights followed by shiftLogWeights (the
// tests' reference) in three passes and without (B, N) temporaries; the
// DCL head (dclHeadOp) calls it on the similarities of its own inputs.
//
// Over the allowed negatives j of query i (count n, similarities c):
// z_j = beta (c_j - mu)/(sigma + eps), log w_j = log n + z_j - LSE_j z, and
// the shift m_i = max(c_ii/tau, max_j c_j/tau + log w_j) is taken at the
// largest c_j (c/tau + log w is increasing in c for beta >= 0).
//
// The row's similarities are copied into the float32 scratch row (the
// precision of the weights: the row kernels are float32) and its excluded
// keys set to -Inf there, so that each pass tests the value it reads
// instead of looking up validity and image ids per key.
func dclWeightRow[T, S float](db, dq []T, sb, sq []S, scratch []float32, m *dclMask, B, K int, beta, tau float64, i int) {
	row, args := scratch[:B+K], scratch[B+K:2*(B+K)]
	copyRow(row[:B], sb[i*B:(i+1)*B])
	copyRow(row[B:], sq[i*K:(i+1)*K])
	negInf := float32(math.Inf(-1))
	shift := float64(row[i]) / tau
	for _, l := range [2][]int32{m.ex.invalid, m.ex.same[m.ids[i]]} {
		for _, j := range l {
			row[j] = negInf
		}
	}
	n, sum, sumSq, cmax := maskedStats(row)
	var logN, inv, mu, lse float64
	if n > 0 {
		mu = sum / float64(n)
		sigma := math.Sqrt(max(sumSq/float64(n)-mu*mu, 0))
		inv = beta / (sigma + dclEps)
		zmax := float64((cmax - mu) * inv) // rounded (never fused): the kernels get this value
		lse = zmax + math.Log(dclArgsExpSum(args, row, mu, inv, zmax))
		logN = math.Log(float64(n))
		shift = max(shift, cmax/tau+logN+zmax-lse)
	}
	// log w_j - shift = (c_j - mu) inv + off for the allowed keys
	off := logN - mu*inv - lse - shift
	write := func(dst []T, part []float32) {
		if d, ok := any(dst).([]float32); ok {
			dclWrite32(d, part, inv, off)
			return
		}
		dclWriteRow(dst, part, inv, off)
	}
	write(db[i*B:(i+1)*B], row[:B])
	db[i*B+i] = T(-shift)
	if K > 0 {
		write(dq[i*K:(i+1)*K], row[B:])
	}
}

// copyRow copies src into dst (equal lengths), converting to float32.
func copyRow[S float](dst []float32, src []S) {
	if s, ok := any(src).([]float32); ok {
		copy(dst, s)
		return
	}
	for j, x := range src {
		dst[j] = float32(x)
	}
}

// sum4 is the float64 sum of x over four interleaved partial sums.
func sum4[T float](x []T) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		y := x[i : i+4 : i+4]
		s0 += float64(y[0])
		s1 += float64(y[1])
		s2 += float64(y[2])
		s3 += float64(y[3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// dot4 is the float64 dot product of x and y (len(x) elements) over four
// interleaved partial sums. Each product is converted (rounded) before it
// is added, so that no GOAMD64 level fuses them into FMAs: dot4 is the Go
// twin of the C kernel behind dot32, bit for bit (see rowk.go).
func dot4[T float](x, y []T) float64 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b := x[i:i+4:i+4], y[i:i+4:i+4]
		s0 += float64(float64(a[0]) * float64(b[0]))
		s1 += float64(float64(a[1]) * float64(b[1]))
		s2 += float64(float64(a[2]) * float64(b[2]))
		s3 += float64(float64(a[3]) * float64(b[3]))
	}
	for ; i < len(x); i++ {
		s0 += float64(float64(x[i]) * float64(y[i]))
	}
	return (s0 + s1) + (s2 + s3)
}

// splitFill writes the batch columns [0, B) of the (B, N) matrix x into lwB
// and the queue columns [B, N) into lwQ (nil when N = B).
func splitFill(lwB, lwQ *tensor.Dense, x []float32, B, N int) {
	b := make([]float32, B*B)
	for i := range B {
		copy(b[i*B:(i+1)*B], x[i*N:i*N+B])
	}
	fill(lwB, b)
	if lwQ == nil {
		return
	}
	K := N - B
	q := make([]float32, B*K)
	for i := range B {
		copy(q[i*K:(i+1)*K], x[i*N+B:(i+1)*N])
	}
	fill(lwQ, q)
}

// sinkhorn returns the (B, P) codes of scores z (B*P) by Sinkhorn-Knopp on
// exp(z/eps): iters rounds of normalising prototypes to mass 1/P and samples
// to mass 1/B, then scaled so that every sample's code sums to 1.
//
// Each half-round is one pass that scales by precomputed reciprocals and
// accumulates the sums the next half-round needs (sinkhornRef in the tests
// is the textbook form: it divides and sums in separate passes).
func sinkhorn(z []float32, B, P int, eps float64, iters int) []float32 {
	m := float32(math.Inf(-1))
	for _, x := range z {
		if x > m {
			m = x
		}
	}
	mm, inv := float64(m), 1/eps
	Q := make([]float64, B*P)
	col := make([]float64, P) // column (prototype) sums
	for i := range B {
		row := Q[i*P : (i+1)*P]
		for p, x := range z[i*P : (i+1)*P] {
			e := math.Exp((float64(x) - mm) * inv)
			row[p] = e
			col[p] += e
		}
	}
	cf := make([]float64, P)
	rs := make([]float64, B) // row (sample) sums
	for it := range iters {
		for p, c := range col {
			cf[p] = 1
			if c > 0 {
				cf[p] = 1 / (c * float64(P))
			}
		}
		for i := range B {
			rs[i] = scaleSum(Q[i*P:(i+1)*P], cf)
		}
		last := it == iters-1
		if !last {
			clear(col)
		}
		for i, s := range rs {
			f := 1.0
			if s > 0 {
				f = 1 / (s * float64(B))
			}
			row := Q[i*P : (i+1)*P]
			if last {
				for p := range row {
					row[p] *= f
				}
				continue
			}
			col := col[:len(row)]
			for p, v := range row {
				v *= f
				row[p] = v
				col[p] += v
			}
		}
	}
	out := make([]float32, B*P)
	for i := range Q {
		out[i] = float32(Q[i] * float64(B))
	}
	return out
}

// scaleSum sets row[p] *= f[p] and returns the sum of the results (four
// interleaved partial sums).
func scaleSum(row, f []float64) float64 {
	f = f[:len(row)]
	var s0, s1, s2, s3 float64
	p := 0
	for ; p+4 <= len(row); p += 4 {
		r, g := row[p:p+4:p+4], f[p:p+4:p+4]
		r[0] *= g[0]
		r[1] *= g[1]
		r[2] *= g[2]
		r[3] *= g[3]
		s0 += r[0]
		s1 += r[1]
		s2 += r[2]
		s3 += r[3]
	}
	for ; p < len(row); p++ {
		row[p] *= f[p]
		s0 += row[p]
	}
	return (s0 + s1) + (s2 + s3)
}

// normRows returns a copy of x (n x d) with unit rows, dividing by
// max(norm, l2Eps) as the graph's l2Op does (a row of zeros stays zeros,
// not NaN; every other row as 1/norm to the bit).
func normRows(x []float32, n, d int) []float32 {
	out := make([]float32, len(x))
	for i := range n {
		inv := invNorm(math.Sqrt(sumSq(x[i*d : (i+1)*d])))
		for k := range d {
			out[i*d+k] = float32(float64(x[i*d+k]) * inv)
		}
	}
	return out
}

// softmaxRow writes softmax(lambda * y) into dst. The concept labels it is
// used on are multi-hot, so a row holds few distinct values: the
// exponential of a value equal to the previous one is reused (the same
// result, one math.Exp per run of equal values).
func softmaxRow(dst, y []float32, lambda float64) {
	m := math.Inf(-1)
	for _, v := range y {
		if a := lambda * float64(v); a > m {
			m = a
		}
	}
	var s float64
	prev, e := float32(math.NaN()), 0.0
	for k, v := range y {
		if v != prev {
			prev, e = v, math.Exp(lambda*float64(v)-m)
		}
		dst[k] = float32(e)
		s += e
	}
	for k := range dst {
		dst[k] = float32(float64(dst[k]) / s)
	}
}
