package merge

// arena is one worker's storage for the built-in kernels' larger per-tensor state (top-k's
// count tables, magnitudes and tie sort, DELLA's ranking): the same memory serves tensor
// after tensor. The layout already counts that state once per worker (kernelState); made
// afresh for every tensor it would instead become garbage, which the collector lets pile up
// to the process's memory limit (and pays for again in page faults).
//
// A worker merges one tensor at a time, so a buffer is never used by two kernels at once.
type arena struct {
	bufs map[arenaKey]any
}

// arenaKey names a buffer: its use, and which model or cut it is for.
type arenaKey struct {
	name string
	i    int
}

// take returns n zeroed elements of the named buffer, growing it when it is shorter. With a
// nil arena (a kernel made outside a worker) it allocates.
func take[T any](a *arena, name string, i, n int) []T {
	b := takeUninit[T](a, name, i, n)
	clear(b)
	return b
}

// takeUninit is take without the zeroing: for buffers the caller fills.
func takeUninit[T any](a *arena, name string, i, n int) []T {
	if a == nil {
		return make([]T, n)
	}
	if a.bufs == nil {
		a.bufs = map[arenaKey]any{}
	}
	key := arenaKey{name, i}
	b, _ := a.bufs[key].([]T)
	if cap(b) < n {
		a.bufs[key] = nil // let the shorter one go first
		b = make([]T, n)
		a.bufs[key] = b
	}
	return b[:n]
}
