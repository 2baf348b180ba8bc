package cpu

import "github.com/ordermerge/ordermerge/internal/parallel"

// For splits [0, n) into at most workers fixed chunks and runs fn on each in parallel (see
// parallel.For: the split depends only on n and workers, and a worker's panic is re-raised
// on the caller's goroutine).
func For(workers, n int, fn func(lo, hi int)) { parallel.For(workers, n, fn) }

// ForWorker is For, also passing the chunk's index in [0, workers), so each chunk can use
// scratch memory of its own.
func ForWorker(workers, n int, fn func(w, lo, hi int)) { parallel.ForWorker(workers, n, fn) }
