package tensor

import (
	"os"
	"syscall"
)

// openDirect opens the file at path a second time, for writing with O_DIRECT; nil where the
// file system refuses it (tmpfs before Linux 6.6, for one).
func openDirect(path string) *os.File {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_DIRECT, 0)
	if err != nil {
		return nil
	}
	return f
}
