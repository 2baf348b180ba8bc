//go:build !linux

package tensor

import "os"

// openDirect returns nil: direct writes are used on Linux only (other systems spell them
// differently, F_NOCACHE on macOS, and the page cache is not known to be the bottleneck there).
func openDirect(string, int64) *os.File { return nil }
