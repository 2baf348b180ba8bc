//go:build !unix

package tensor

// Without a way to look processes up, every owner counts as alive: temporaries are then kept,
// never removed while their owner may still be writing them.
func processStart(pid int) uint64 { return 0 }

func processExists(pid int) bool { return true }
