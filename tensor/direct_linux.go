package tensor

import (
	"os"
	"syscall"
)

// openDirect opens the file at path a second time, for writing with O_DIRECT; nil where the
// file system refuses it (tmpfs before Linux 6.6, for one). It allocates the file's size
// first where the file system can: ext4 serialises direct writes that extend a file or fill
// holes under the inode's lock, and lets writes into allocated blocks run side by side.
func openDirect(path string, size int64) *os.File {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_DIRECT, 0)
	if err != nil {
		return nil
	}
	if size > 0 {
		// Best effort: without it the writes are only slower.
		_ = syscall.Fallocate(int(f.Fd()), 0, 0, size)
	}
	return f
}
