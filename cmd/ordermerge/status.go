package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// statusLine is the one line that long commands (train, merge, repro) redraw in place on a
// terminal. On a file or a pipe (a batch job's log) nothing is redrawn: callers print plain
// lines at their own pace instead.
type statusLine struct {
	w     io.Writer
	tty   bool
	width int  // terminal columns; a longer line is cut, so it never wraps
	open  bool // a redrawn line is on screen without its newline
}

func newStatusLine(w io.Writer) *statusLine {
	s := &statusLine{w: w, width: 100}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		s.tty = true
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			s.width = cols
		}
	}
	return s
}

// redraw replaces the status line (terminals only).
func (s *statusLine) redraw(line string) {
	if !s.tty {
		return
	}
	if len(line) > s.width-1 {
		line = line[:s.width-1]
	}
	// \x1b[K clears what a longer previous line left behind.
	fmt.Fprintf(s.w, "\r%s\x1b[K", line)
	s.open = true
}

// println prints a line of its own, below the status line if one is drawn.
func (s *statusLine) println(line string) {
	s.finish()
	fmt.Fprintln(s.w, strings.TrimRight(line, "\n"))
}

// finish ends the status line so that what follows starts on a fresh one.
func (s *statusLine) finish() {
	if s.open {
		fmt.Fprintln(s.w)
		s.open = false
	}
}

// bar draws a progress bar of the given width for a fraction between 0 and 1.
func bar(frac float64, width int, fill string) string {
	n := max(0, min(width, int(frac*float64(width))))
	return "[" + strings.Repeat(fill, n) + strings.Repeat(" ", width-n) + "]"
}
