package cpu

import "sync"

// For splits [0, n) into at most workers contiguous chunks of near-equal size and calls
// fn(lo, hi) for each, in parallel, returning when all are done. The chunk boundaries depend
// only on n and workers, so work split this way is the same on every run; callers keep every
// output element inside one chunk (or reduce per chunk in a fixed order) so results are
// bit-identical run to run.
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
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	for w := 1; w < workers; w++ {
		lo, hi := chunk(n, workers, w)
		go func() {
			defer wg.Done()
			fn(w, lo, hi)
		}()
	}
	lo, hi := chunk(n, workers, 0)
	fn(0, lo, hi)
	wg.Wait()
}

// chunk returns the bounds of part w of [0, n) split into parts near-equal pieces.
func chunk(n, parts, w int) (lo, hi int) {
	q, r := n/parts, n%parts
	lo = w*q + min(w, r)
	hi = lo + q
	if w < r {
		hi++
	}
	return lo, hi
}
