// Package parallel is the project's one worker-pool helper: it splits a range of work over
// goroutines on fixed partitions (so results repeat exactly run to run) and carries a panic
// on a worker back to the calling goroutine, where the caller's recover sees it. Without
// that, a panic on a worker (an op handed a slice one element short, say) would kill the
// whole process, a notebook kernel with every variable in it included.
package parallel
