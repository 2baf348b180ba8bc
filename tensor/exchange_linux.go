package tensor

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// exchange swaps the two paths in one atomic step (renameat2 RENAME_EXCHANGE): no instant
// exists at which either name is missing, whatever happens to the process or the machine.
func exchange(a, b string) error {
	if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
		return &os.LinkError{Op: "exchange", Old: a, New: b, Err: err}
	}
	return nil
}

// renameNoReplace renames a to b, failing with fs.ErrExist when b exists (rename(2) would
// silently replace an empty folder).
func renameNoReplace(a, b string) error {
	if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_NOREPLACE); err != nil {
		return &os.LinkError{Op: "rename", Old: a, New: b, Err: err}
	}
	return nil
}

// unsupported reports an error of a file system (or kernel) without renameat2's flags: NFS,
// some FUSE file systems, kernels before 3.15.
func unsupported(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP)
}
