package parallel

import (
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// WorkerPanic is what For, ForWorker and Each panic with on the calling goroutine when a
// worker goroutine panicked: the worker's value and its stack.
type WorkerPanic struct {
	Value any
	Stack []byte
}

func (p *WorkerPanic) Error() string { return fmt.Sprintf("panic on a worker goroutine: %v", p.Value) }

// Unwrap returns the worker's value when it was an error, so errors.As sees through.
func (p *WorkerPanic) Unwrap() error {
	if err, ok := p.Value.(error); ok {
		return err
	}
	return nil
}

// catcher keeps the first panic of a group of workers.
type catcher struct {
	first atomic.Pointer[WorkerPanic]
}

func (c *catcher) run(fn func()) {
	defer func() {
		if v := recover(); v != nil {
			wp, ok := v.(*WorkerPanic)
			if !ok {
				wp = &WorkerPanic{Value: v, Stack: debug.Stack()}
			}
			c.first.CompareAndSwap(nil, wp)
		}
	}()
	fn()
}

// rethrow panics on the calling goroutine with the first worker panic, if any.
func (c *catcher) rethrow() {
	if wp := c.first.Load(); wp != nil {
		panic(wp)
	}
}

// For splits [0, n) into at most workers contiguous chunks of near-equal size and calls
// fn(lo, hi) for each, in parallel, returning when all are done. The chunk boundaries depend
// only on n and workers, so work split this way is the same on every run; callers keep every
// output element inside one chunk (or reduce per chunk in a fixed order) so results are
// bit-identical run to run. A panic in fn is re-raised on the caller's goroutine as a
// *WorkerPanic once every chunk has finished.
func For(workers, n int, fn func(lo, hi int)) {
	ForWorker(workers, n, func(_, lo, hi int) { fn(lo, hi) })
}

// ForWorker is For, also passing the chunk's index in [0, workers), so each chunk can use
// scratch memory of its own.
func ForWorker(workers, n int, fn func(w, lo, hi int)) {
	if n <= 0 {
		return
	}
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		fn(0, 0, n)
		return
	}
	var c catcher
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	for w := 1; w < workers; w++ {
		lo, hi := Chunk(n, workers, w)
		go func() {
			defer wg.Done()
			c.run(func() { fn(w, lo, hi) })
		}()
	}
	lo, hi := Chunk(n, workers, 0)
	c.run(func() { fn(0, lo, hi) })
	wg.Wait()
	c.rethrow()
}

// Each calls fn(k) for every k in [0, n) on up to workers goroutines that take the next k as
// they become free (for items of uneven cost). Each k must be independent of the others, so
// which goroutine runs it never affects results. Panics are re-raised as in For.
func Each(workers, n int, fn func(k int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for k := 0; k < n; k++ {
			fn(k)
		}
		return
	}
	var c catcher
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer wg.Done()
			c.run(func() {
				for {
					k := int(next.Add(1) - 1)
					if k >= n || c.first.Load() != nil {
						return
					}
					fn(k)
				}
			})
		}()
	}
	wg.Wait()
	c.rethrow()
}

// Chunk returns the bounds of part w of [0, n) split into parts near-equal pieces.
func Chunk(n, parts, w int) (lo, hi int) {
	q, r := n/parts, n%parts
	lo = w*q + min(w, r)
	hi = lo + q
	if w < r {
		hi++
	}
	return lo, hi
}

// Recover turns a panic into an error for the public API it guards: deferred as
// `defer parallel.Recover(&err, "llama: forward")`, a panic on the caller's goroutine, or a
// worker's re-raised by For, becomes err (with the worker's stack for a *WorkerPanic).
func Recover(err *error, what string) {
	v := recover()
	if v == nil {
		return
	}
	if wp, ok := v.(*WorkerPanic); ok {
		*err = fmt.Errorf("%s: internal error: %w\n%s", what, wp, wp.Stack)
		return
	}
	*err = fmt.Errorf("%s: internal error: %v\n%s", what, v, debug.Stack())
}
