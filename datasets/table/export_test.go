package table

// Idle returns how many encoders and buffers r holds between writers.
func (r *Reuse) Idle() (encoders, buffers int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.encs), len(r.bufs)
}
