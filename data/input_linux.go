package data

import (
	"context"
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// openPipe opens a named pipe for reading and waits, cancellably, for a writer. A blocking
// open(2) would wait for the writer where nothing can interrupt it; a non-blocking one returns
// at once, but its reads report end-of-file until a writer has come. Linux does not report a
// hang-up to poll(2) on such a descriptor before a writer has been seen, so polling tells when
// the data (or the end of it) is there, in steps short enough to notice a cancellation.
func openPipe(ctx context.Context, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	for {
		if err := ctx.Err(); err != nil {
			f.Close()
			return nil, err
		}
		var n int
		var perr error
		cerr := rc.Control(func(fd uintptr) {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			n, perr = unix.Poll(fds, 100)
		})
		if cerr != nil {
			f.Close()
			return nil, cerr
		}
		if perr != nil && !errors.Is(perr, unix.EINTR) {
			f.Close()
			return nil, &os.PathError{Op: "poll", Path: path, Err: perr}
		}
		if n > 0 {
			return f, nil
		}
	}
}
