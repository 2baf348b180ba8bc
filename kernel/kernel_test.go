package kernel

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordermerge/ordermerge/kernel/session"
)

// recHost records a cell's output for tests of the real kernel session.
type recHost struct {
	mu  sync.Mutex
	out bytes.Buffer
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (h *recHost) Stdout() io.Writer                                          { return lockedWriter{&h.mu, &h.out} }
func (h *recHost) Stderr() io.Writer                                          { return lockedWriter{&h.mu, &h.out} }
func (h *recHost) PublishDisplay(_, _ map[string]any, _ string, _ bool) error { return nil }
func (h *recHost) Input(string, bool) (string, error)                         { return "", io.EOF }

func (h *recHost) text() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.out.String()
}

func realSession(t *testing.T) *session.Session {
	t.Helper()
	opts, err := SessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	s, err := session.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustRun(t *testing.T, s *session.Session, code string) (session.Result, string) {
	t.Helper()
	h := &recHost{}
	r := s.Execute(context.Background(), code, h)
	if r.Err != nil {
		t.Fatalf("%s\n%s: %s\n%s", code, r.Err.Name, r.Err.Value, strings.Join(r.Err.Traceback, "\n"))
	}
	return r, h.text()
}

// TestInterruptRealTrainingWithinOneStep runs sft.Train on a tiny Llama model through the
// kernel's session with the real symbol tables, interrupts the cell (as interrupt_request
// does: the cell's context is cancelled) once the first steps have reported progress, and
// checks that the training returned at the next step boundary (the checkpoint it writes on
// cancellation holds at most one step more than had been reported) and that the session and
// its variables are still usable.
func TestInterruptRealTrainingWithinOneStep(t *testing.T) {
	s := realSession(t)
	dir := t.TempDir()
	setup, err := os.ReadFile("testdata/train_setup.cell")
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, s, strings.ReplaceAll(string(setup), "CHECKPOINT_DIR", strconv.Quote(filepath.Join(dir, "run"))))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := &recHost{}
	done := make(chan session.Result, 1)
	go func() { done <- s.Execute(ctx, "res, err := sft.Train(display.Context(), model, examples, tc)", h) }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(h.text(), "step 2\n") {
		if time.Now().After(deadline) {
			t.Fatalf("no progress from training: %q", h.text())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	reported := strings.Count(h.text(), "step ")
	start := time.Now()
	var r session.Result
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the interrupted cell did not return")
	}
	if !r.Interrupted {
		t.Fatalf("cell not interrupted: %+v", r.Err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("interrupt took %v", d)
	}

	// The trainer saves a checkpoint when it sees the cancellation, then returns.
	state := filepath.Join(dir, "run", "trainer_state.json")
	var saved struct {
		Step int `json:"step"`
	}
	for {
		b, err := os.ReadFile(state)
		if err == nil && json.Unmarshal(b, &saved) == nil {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("no checkpoint after the interrupt: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	after := strings.Count(h.text(), "step ")
	t.Logf("reported %d steps at the interrupt, %d in all; checkpoint at step %d", reported, after, saved.Step)
	if saved.Step < 2 || saved.Step > reported+1 {
		t.Errorf("training stopped after step %d; %d steps were reported at the interrupt (want at most one more)", saved.Step, reported)
	}
	if after > reported+1 {
		t.Errorf("%d steps reported after the interrupt", after-reported)
	}

	// The kernel keeps its variables and runs the next cell.
	r2, _ := mustRun(t, s, "len(examples) + tc.Epochs")
	if r2.Data["text/plain"] != "1064" {
		t.Errorf("after the interrupt: %v", r2.Data)
	}
}

func TestYaegiLogFilter(t *testing.T) {
	var b bytes.Buffer
	f := yaegiLogFilter{&b}
	for _, line := range []string{"2026/11/29 16:32:50 nil type\n", "nil reflect type\n", "2026/11/29 16:32:50 kept\n", "nil type and more\n"} {
		if n, err := f.Write([]byte(line)); n != len(line) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", line, n, err)
		}
	}
	if b.String() != "2026/11/29 16:32:50 kept\nnil type and more\n" {
		t.Errorf("passed on %q", b.String())
	}
}
