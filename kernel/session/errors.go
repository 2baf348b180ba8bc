package session

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/traefik/yaegi/interp"
)

// yaegi reports positions as "L:C: msg" or "_.go:L:C: msg", with lines one more than the
// cell's because of how chunks are placed (see placed).
var posRE = regexp.MustCompile(`^(?:_\.go:)?(\d+):(\d+): ?(.*)$`)

// panicLineRE matches the line yaegi prints on its stderr when a panic unwinds an
// interpreted frame; the kernel turns the position into part of the error instead.
var panicLineRE = regexp.MustCompile(`^(?:_\.go:)?(\d+):(\d+): panic`)

// toError turns an evaluation error into the cell's error output.
func (s *Session) toError(err error, code string) *Error {
	var ke *Error
	if errors.As(err, &ke) {
		return ke
	}
	var se *SyntaxError
	if errors.As(err, &se) {
		return compileError(se.Line, se.Col, se.Msg, code)
	}
	var p interp.Panic
	if errors.As(err, &p) {
		e, ok := mustError(p.Value)
		if !ok {
			e = &Error{Name: "panic", Value: fmt.Sprint(p.Value)}
			e.Traceback = []string{"panic: " + e.Value}
		}
		if s.lastPanicPos != "" {
			if m := posRE.FindStringSubmatch(s.lastPanicPos + " "); m != nil {
				line, _ := strconv.Atoi(m[1])
				col, _ := strconv.Atoi(m[2])
				e.Traceback = append(e.Traceback, excerpt(code, line-1, col, fmt.Sprintf("at line %d, column %d of the cell", line-1, col))...)
			}
		}
		s.lastPanicPos = ""
		return e
	}
	msg := err.Error()
	if list := splitErrors(msg); len(list) > 0 {
		if m := posRE.FindStringSubmatch(list[0]); m != nil {
			line, _ := strconv.Atoi(m[1])
			col, _ := strconv.Atoi(m[2])
			return compileError(line-1, col, cleanMessage(m[3]), code)
		}
	}
	return &Error{Name: "Error", Value: msg, Traceback: []string{msg}}
}

func splitErrors(msg string) []string { return strings.Split(msg, "\n") }

// cleanMessage shortens yaegi messages that talk about GOPATH, which means nothing here.
func cleanMessage(msg string) string {
	if i := strings.Index(msg, " error: unable to find source related to:"); i >= 0 {
		return msg[:i] + ": not a preloaded package (only the standard library and the preloaded packages can be imported; %help lists them)"
	}
	return msg
}

// compileError formats an error at a cell position with the offending line and a caret.
func compileError(line, col int, msg, code string) *Error {
	head := fmt.Sprintf("%d:%d: %s", line, col, msg)
	return &Error{Name: "CompileError", Value: head, Traceback: excerpt(code, line, col, head)}
}

func excerpt(code string, line, col int, head string) []string {
	tb := []string{head}
	lines := strings.Split(code, "\n")
	if line >= 1 && line <= len(lines) {
		src := lines[line-1]
		tb = append(tb, fmt.Sprintf("%4d | %s", line, src))
		if col >= 1 && col <= len(src)+1 {
			pad := strings.Map(func(r rune) rune {
				if r == '\t' {
					return '\t'
				}
				return ' '
			}, src[:col-1])
			tb = append(tb, "     | "+pad+"^")
		}
	}
	return tb
}

// panicLineFilter is the interpreter's stderr: it keeps yaegi's own "L:C: panic" lines out of
// the notebook (the panic becomes the cell's single error output, position included) and
// passes everything else (log package output) to the cell's stderr.
type panicLineFilter struct{ s *Session }

func (f *panicLineFilter) Write(p []byte) (int, error) {
	if panicLineRE.Match(p) {
		if f.s.lastPanicPos == "" { // the innermost frame reports first
			f.s.lastPanicPos = strings.TrimSpace(string(p))
		}
		return len(p), nil
	}
	return f.s.writeStderr(p)
}
