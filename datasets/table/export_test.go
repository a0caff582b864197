package table

import "github.com/parquet-go/parquet-go"

// Idle returns how many encoders and buffers r holds between writers.
func (r *Reuse) Idle() (encoders, buffers int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.encs), len(r.bufs)
}

// Taken returns how many encoders r has handed to writers.
func (r *Reuse) Taken() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.taken
}

// NullCountsIn is [nullCountsIn].
func NullCountsIn(pf *parquet.File) [][]bool { return nullCountsIn(pf) }
