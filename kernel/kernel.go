package kernel

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"reflect"
	"regexp"
	"runtime/debug"
	"sync"

	"github.com/ordermerge/ordermerge/kernel/dispatch"
	"github.com/ordermerge/ordermerge/kernel/session"
	"github.com/ordermerge/ordermerge/kernel/symbols"
	"github.com/ordermerge/ordermerge/kernel/wire"
)

// preferredImports resolves package names that several preloaded packages share.
var preferredImports = map[string]string{
	"rand":     "math/rand",
	"template": "text/template",
	"draw":     "gonum.org/v1/plot/vg/draw",
	"tensor":   "github.com/ordermerge/ordermerge/tensor",
	"scanner":  "text/scanner",
}

// SessionOptions returns the session options of the real kernel: preloaded symbol tables,
// the doc index and the package-name preferences. The doc index is decoded at its first
// use (an inspect or a completion), not at start-up; should it fail to decode, docs are
// missing and the error is written to logw.
func SessionOptions() (session.Options, error) {
	return sessionOptions(io.Discard), nil
}

func sessionOptions(logw io.Writer) session.Options {
	docs := sync.OnceValue(func() map[string]symbols.Doc {
		d, err := symbols.Docs()
		if err != nil {
			fmt.Fprintf(logw, "kernel: decode doc index: %v\n", err)
		}
		return d
	})
	prefs := make(map[string]string, len(preferredImports))
	for k, v := range preferredImports {
		prefs[k] = v
	}
	return session.Options{
		Symbols: []map[string]map[string]reflect.Value{symbols.Symbols},
		Docs: func(key string) (session.Doc, bool) {
			d, ok := docs()[key]
			return session.Doc{Decl: d.Decl, Text: d.Text}, ok
		},
		PreferredImports: prefs,
		LazyLoad:         true,
	}
}

// Config configures Start.
type Config struct {
	// Log receives the kernel's own log (default: discarded).
	Log io.Writer
	// CaptureFDs makes output that compiled code writes to fds 1 and 2 reach the notebook.
	CaptureFDs bool
}

// Start reads the connection file, binds the sockets and prepares the session. Call Run on
// the result; Interrupt it on SIGINT.
func Start(ctx context.Context, connectionFile string, cfg Config) (*dispatch.Kernel, error) {
	ci, err := wire.ReadConnectionFile(connectionFile)
	if err != nil {
		return nil, err
	}
	logw := cfg.Log
	if logw == nil {
		logw = io.Discard
	}
	opts := sessionOptions(logw)
	// yaegi's compiler reports some of its internal failures with log.Panic, which also prints
	// the message through the standard logger, that is into the running cell's stderr. The
	// panic itself becomes the cell's one error output, so the printed line is dropped.
	log.SetOutput(yaegiLogFilter{os.Stderr})
	return dispatch.New(ctx, dispatch.Config{Conn: ci, Session: opts, Log: cfg.Log, CaptureFDs: cfg.CaptureFDs, Version: Version()})
}

// yaegiLogLine matches what log.Panic prints for yaegi's internal compile failures.
var yaegiLogLine = regexp.MustCompile(`^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d )?(nil type|nil reflect type|\d+:\d+: compositeGenerator not implemented for type kind: \w+)\n$`)

// yaegiLogFilter passes the standard logger's lines on, except yaegi's (see Start).
type yaegiLogFilter struct{ w io.Writer }

func (f yaegiLogFilter) Write(p []byte) (int, error) {
	if yaegiLogLine.Match(p) {
		return len(p), nil
	}
	return f.w.Write(p)
}

// Version is the module version the binary was built from ("devel" for a source build).
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
