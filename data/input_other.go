//go:build !linux

package data

import (
	"context"
	"os"
)

// openPipe opens a named pipe for reading. Elsewhere than on Linux there is no reliable way to
// wait for the writer cancellably, so the open runs on its own goroutine: a cancellation
// returns at once, leaving that goroutine waiting until a writer comes or the process ends.
func openPipe(ctx context.Context, path string) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := os.Open(path)
		done <- result{f, err}
	}()
	select {
	case r := <-done:
		return r.f, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.f != nil {
				r.f.Close()
			}
		}()
		return nil, ctx.Err()
	}
}
