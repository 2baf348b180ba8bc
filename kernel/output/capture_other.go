//go:build !linux

package output

import (
	"errors"
	"io"
)

// Capture is only implemented on Linux; elsewhere compiled code's output goes to the
// kernel's own stdout/stderr (the interpreter's output is still captured).
type Capture struct{}

// StartCapture reports that fd capture is unavailable on this system.
func StartCapture() (*Capture, error) { return nil, errors.New("fd capture needs linux") }

// Log is never called on a nil capture.
func (c *Capture) Log() io.Writer { return nil }

// SetTargets does nothing here.
func (c *Capture) SetTargets(stdout, stderr io.Writer) {}

// Sync does nothing here.
func (c *Capture) Sync() {}

// Stop does nothing here.
func (c *Capture) Stop() {}
