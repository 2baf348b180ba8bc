package kernel

import (
	"context"
	"errors"
	"os"
	"strconv"
	"syscall"
	"time"
)

// ParentPID is the process Jupyter says started the kernel (JPY_PARENT_PID, which
// jupyter_client sets on every platform), 0 when none is given or it cannot be read.
func ParentPID() int {
	pid, err := strconv.Atoi(os.Getenv("JPY_PARENT_PID"))
	if err != nil || pid <= 1 {
		return 0
	}
	return pid
}

// WatchParent calls gone once, and returns, when the process pid has ended, checking every
// interval until ctx ends. A notebook server or client killed with SIGKILL cannot shut its
// kernels down; without this, a kernel would stay alive, with its memory and ports, under
// init. (ipykernel does the same check, every second.) The parent counts as gone when the
// kernel, started as its child, now has another parent, or when no process pid exists.
func WatchParent(ctx context.Context, pid int, interval time.Duration, gone func()) {
	if pid <= 1 {
		return
	}
	child := os.Getppid() == pid
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if child && os.Getppid() != pid || !processExists(pid) {
			gone()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// processExists reports whether a process pid exists (signal 0 checks without sending).
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
