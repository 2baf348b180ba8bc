package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// openInput opens a dataset file for streaming: a regular file, a named pipe (a FIFO, or a
// shell's <(zcat data.jsonl.gz)) or a device. Opening and every read give up when ctx is
// cancelled (Ctrl-C, SIGTERM), also while a pipe waits for its writer.
func openInput(ctx context.Context, path string) (io.ReadCloser, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var f *os.File
	switch {
	case st.IsDir():
		return nil, fmt.Errorf("%s is a folder, not a dataset file", path)
	case st.Mode()&fs.ModeNamedPipe != 0:
		f, err = openPipe(ctx, path)
	default:
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, err
	}
	// A read blocked on a pipe or a terminal returns as soon as the deadline passes; other
	// files (where SetReadDeadline is not supported) never block for long.
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	return &ctxFile{f: f, ctx: ctx, stop: stop}, nil
}

// ctxFile is a file whose reads fail with ctx's error once ctx is cancelled.
type ctxFile struct {
	f    *os.File
	ctx  context.Context
	stop func() bool
}

func (c *ctxFile) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.f.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) && c.ctx.Err() != nil {
		err = c.ctx.Err()
	}
	return n, err
}

func (c *ctxFile) Close() error {
	c.stop()
	return c.f.Close()
}
