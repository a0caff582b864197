package kg

import "context"

// Pipe runs fn on another goroutine, so that reading the next batch of
// edges overlaps storing the previous one. The returned add copies each
// batch (readers reuse theirs) and hands it over (at most two batches wait);
// it returns fn's first error. Call wait once after the last add: it
// returns when fn has seen every batch, with fn's first error.
func Pipe(ctx context.Context, fn func([]Edge) error) (add func([]Edge) error, wait func() error) {
	ch := make(chan []Edge, 2)
	done := make(chan struct{})
	var ferr error
	go func() {
		defer close(done)
		for b := range ch {
			if ferr == nil {
				ferr = fn(b)
			}
		}
	}()
	failed := func() error {
		select {
		case <-done:
			return ferr
		default:
			return nil
		}
	}
	add = func(b []Edge) error {
		c := append([]Edge(nil), b...)
		select {
		case ch <- c:
			return failed()
		case <-done:
			return ferr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	closed := false
	wait = func() error {
		if !closed {
			closed = true
			close(ch)
		}
		<-done
		return ferr
	}
	return add, wait
}
