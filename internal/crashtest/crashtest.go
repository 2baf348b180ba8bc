package crashtest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

const (
	// TraceEnv names a file to which every fault point reached is appended, one name per line.
	TraceEnv = "ORDERMERGE_TEST_FAULT_TRACE"
	// FaultEnv is NAME#N: at the N-th time point NAME is reached (counted in the trace, which
	// must be set), the process kills itself with SIGKILL; NAME#N:stop stops it (SIGSTOP)
	// instead, so that a test can look at a run caught in the middle.
	FaultEnv = "ORDERMERGE_TEST_FAULT"
	// NoExchangeEnv set to 1 makes folder replacements take the fallback path (rename aside,
	// rename into place) of file systems without an atomic exchange.
	NoExchangeEnv = "ORDERMERGE_TEST_NO_EXCHANGE"
)

// Points reads a trace and returns its points in order, each as NAME#N (the N-th time NAME
// was reached): the values FaultEnv takes.
func Points(trace string) ([]string, error) {
	b, err := os.ReadFile(trace)
	if err != nil {
		return nil, err
	}
	count := map[string]int{}
	var out []string
	for _, name := range strings.Fields(string(b)) {
		count[name]++
		out = append(out, fmt.Sprintf("%s#%d", name, count[name]))
	}
	return out, nil
}

// Reached reports whether the point NAME#N is reached by now according to the trace's contents:
// whether NAME occurs N times in it.
func Reached(trace []byte, point string) bool {
	name, n, _ := strings.Cut(point, "#")
	return fmt.Sprint(bytes.Count(append([]byte("\n"), trace...), []byte("\n"+name+"\n"))) == n
}

// Result is how a child process ended.
type Result struct {
	Killed bool // by SIGKILL
	Code   int
	Output string // stdout and stderr
}

// Run runs cmd to its end and says how it ended; an error only when it could not run.
func Run(cmd *exec.Cmd) (Result, error) {
	out, err := cmd.CombinedOutput()
	r := Result{Output: string(out)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			r.Killed = true
		}
		r.Code = ee.ExitCode()
	default:
		return r, err
	}
	return r, nil
}

// Snapshot hashes every file under dir, by relative path, leaving out the entries whose name
// skip reports (and everything under them); "" when dir does not exist. Two snapshots are
// equal when the folders hold the same bytes.
func Snapshot(dir string, skip func(name string) bool) (string, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && skip != nil && skip(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		lines = append(lines, fmt.Sprintf("%s %x", rel, sha256.Sum256(b)))
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n"), err
}
