package tensor

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// openRegular opens path for reading and refuses, without waiting, anything that is not a
// regular file. Opening a named pipe (FIFO) for reading blocks until a writer appears, and
// reading a device like /dev/zero never ends: given by mistake as a model, either would hang
// the run. O_NONBLOCK makes the open return at once whatever the file is; for a regular file it
// changes nothing.
func openRegular(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() && !st.IsDir() {
		f.Close()
		return nil, nil, &FormatError{path, "is " + FileKind(st.Mode()) + ", not a regular file"}
	}
	return f, st, nil
}

// FileKind names the kind of file a mode describes, for messages: "a named pipe (FIFO)",
// "a device", "a folder", ...
func FileKind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file"
}

// readSmallFile reads a whole regular file of at most max bytes (config.json, the shard index):
// a larger one is not what it claims to be, and reading it whole could exhaust memory.
func readSmallFile(path string, max int64) ([]byte, error) {
	f, st, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.IsDir() {
		return nil, &FormatError{path, "is a folder, not a file"}
	}
	if st.Size() > max {
		return nil, &FormatError{path, fmt.Sprintf("is %s, more than the %s such a file can be", FormatBytes(st.Size()), FormatBytes(max))}
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, &FormatError{path, fmt.Sprintf("is more than the %s such a file can be", FormatBytes(max))}
	}
	return b, nil
}
