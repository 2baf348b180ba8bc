//go:build unix && !linux

package tensor

import (
	"errors"
	"syscall"
)

// processStart is unknown outside Linux (no /proc): reused PIDs then count as the owner, which
// keeps a temporary that could have been removed, never the other way round.
func processStart(pid int) uint64 { return 0 }

// processExists reports whether a process with this PID exists (signal 0 checks without
// sending anything).
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
