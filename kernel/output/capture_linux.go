//go:build linux

package output

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// Capture replaces file descriptors 1 and 2 of the process with pipes and forwards what is
// written to them to the writers set with SetTargets. Stop puts the original descriptors back.
type Capture struct {
	orig  [2]int      // duplicates of the original fds 1 and 2
	wfd   [2]int      // write ends, now also fds 1 and 2
	rfile [2]*os.File // read ends
	log   *os.File    // the original stderr, for the kernel's own log

	mu      sync.Mutex
	targets [2]io.Writer
	flushes [2]chan struct{}
	seq     int
	done    sync.WaitGroup
}

// marker is written into a pipe by Sync; the reader recognises it and signals that
// everything written before it has been forwarded. NUL bytes keep it out of normal text.
func marker(seq int) []byte { return []byte("\x00ordermerge-sync-" + strconv.Itoa(seq) + "\x00") }

// StartCapture installs the pipes. Output that arrives while no target is set goes to the
// original stderr.
func StartCapture() (*Capture, error) {
	c := &Capture{}
	for i, fd := range []int{1, 2} {
		orig, err := unix.Dup(fd)
		if err != nil {
			c.undo(i)
			return nil, fmt.Errorf("capture fd %d: dup: %w", fd, err)
		}
		unix.CloseOnExec(orig)
		c.orig[i] = orig
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			unix.Close(orig)
			c.undo(i)
			return nil, fmt.Errorf("capture fd %d: pipe: %w", fd, err)
		}
		if err := unix.Dup3(p[1], fd, 0); err != nil {
			unix.Close(orig)
			unix.Close(p[0])
			unix.Close(p[1])
			c.undo(i)
			return nil, fmt.Errorf("capture fd %d: dup3: %w", fd, err)
		}
		c.wfd[i] = p[1]
		c.rfile[i] = os.NewFile(uintptr(p[0]), "capture-"+strconv.Itoa(fd))
	}
	c.log = os.NewFile(uintptr(c.orig[1]), "stderr")
	// A fatal runtime error would otherwise print into the pipe and vanish with the process.
	_ = debug.SetCrashOutput(c.log, debug.CrashOptions{})
	for i := range c.rfile {
		c.done.Add(1)
		go c.pump(i)
	}
	return c, nil
}

// undo restores the fds captured before index n when StartCapture fails half way.
func (c *Capture) undo(n int) {
	for i := 0; i < n; i++ {
		_ = unix.Dup3(c.orig[i], i+1, 0)
		unix.Close(c.orig[i])
		unix.Close(c.wfd[i])
		c.rfile[i].Close()
	}
}

// Log returns the original stderr, where the kernel writes its own log lines.
func (c *Capture) Log() io.Writer { return c.log }

// SetTargets routes captured fd 1 output to stdout and fd 2 output to stderr; nil sends it
// to the original stderr.
func (c *Capture) SetTargets(stdout, stderr io.Writer) {
	c.mu.Lock()
	c.targets = [2]io.Writer{stdout, stderr}
	c.mu.Unlock()
}

func (c *Capture) target(i int) io.Writer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.targets[i] == nil {
		return c.log
	}
	return c.targets[i]
}

// pump forwards one pipe, recognising Sync markers.
func (c *Capture) pump(i int) {
	defer c.done.Done()
	buf := make([]byte, 64<<10)
	var pending []byte
	for {
		n, err := c.rfile[i].Read(buf)
		if n > 0 {
			pending = append(pending, buf[:n]...)
			pending = c.forward(i, pending)
		}
		if err != nil {
			if len(pending) > 0 {
				c.target(i).Write(pending)
			}
			return
		}
	}
}

// forward writes out everything in p except a possible marker prefix at its end, handling
// complete markers, and returns what it kept back.
func (c *Capture) forward(i int, p []byte) []byte {
	for {
		z := bytes.IndexByte(p, 0)
		if z < 0 {
			c.target(i).Write(p)
			return p[:0]
		}
		if z > 0 {
			c.target(i).Write(p[:z])
			p = p[z:]
		}
		// p starts with NUL: a marker, the start of one, or a NUL the program printed.
		const prefix = "\x00ordermerge-sync-"
		if len(p) < len(prefix) {
			if bytes.HasPrefix([]byte(prefix), p) {
				return p
			}
		} else if bytes.HasPrefix(p, []byte(prefix)) {
			end := bytes.IndexByte(p[1:], 0)
			if end < 0 {
				if len(p) < len(prefix)+20 {
					return p
				}
			} else {
				c.mu.Lock()
				ch := c.flushes[i]
				c.flushes[i] = nil
				c.mu.Unlock()
				if ch != nil {
					close(ch)
				}
				p = p[end+2:]
				continue
			}
		}
		c.target(i).Write(p[:1])
		p = p[1:]
	}
}

// Sync returns once everything written to fds 1 and 2 before the call has been handed to the
// targets, so a cell's last lines are sent before its reply.
func (c *Capture) Sync() {
	for i := range c.wfd {
		ch := make(chan struct{})
		c.mu.Lock()
		c.seq++
		c.flushes[i] = ch
		m := marker(c.seq)
		c.mu.Unlock()
		if _, err := unix.Write(c.wfd[i], m); err != nil {
			continue
		}
		<-ch
	}
}

// Stop restores the original descriptors and waits for the pumps to drain.
func (c *Capture) Stop() {
	for i := range c.wfd {
		_ = unix.Dup3(c.orig[i], i+1, 0) // fd 1/2 no longer refer to the pipe
		unix.Close(c.wfd[i])             // last write end: the pump sees EOF
	}
	c.done.Wait()
	for i := range c.rfile {
		c.rfile[i].Close()
	}
	_ = debug.SetCrashOutput(nil, debug.CrashOptions{})
	unix.Close(c.orig[0])
	// c.orig[1] stays open inside c.log so late log lines still have somewhere to go.
}
