package table

import "os"

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

// NullCountsIn opens the Parquet file at path and returns [nullCountsIn].
func NullCountsIn(path string) ([][]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	pf, err := openFile(f, st.Size())
	if err != nil {
		return nil, err
	}
	return nullCountsIn(pf), nil
}
