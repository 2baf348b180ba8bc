package session

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An interrupt during a blocking compiled call (time.Sleep) ends the cell at once, and
// nothing after the interrupt point runs: no output (in this cell or the next), no
// assignment, no file written, even once the call has returned.
func TestInterruptDuringCompiledCall(t *testing.T) {
	s := newSession(t)
	file := filepath.Join(t.TempDir(), "late.txt")
	if r, _ := run(t, s, "x := 1"); r.Err != nil {
		t.Fatal(r.Err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	h := &memHost{}
	start := time.Now()
	r := s.Execute(ctx, "import \"os\"\ntime.Sleep(600 * time.Millisecond)\nfmt.Println(\"LATE\")\nx = 5\nos.WriteFile("+
		"\""+file+"\", []byte(\"late\"), 0o644)", h)
	if !r.Interrupted {
		t.Fatalf("not interrupted: %+v", r)
	}
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Errorf("the interrupt took %v (the sleep was still running)", d)
	}
	r2, h2 := run(t, s, "fmt.Println(\"next\")\nx")
	if r2.Err != nil || text(r2) != "1" {
		t.Errorf("next cell: x = %q, err %+v (want 1: the assignment after the interrupt must not run)", text(r2), r2.Err)
	}
	time.Sleep(700 * time.Millisecond)
	if out := h.out.String() + h2.out.String(); strings.Contains(out, "LATE") || h2.out.String() != "next\n" {
		t.Errorf("output after the interrupt point: interrupted cell %q, next cell %q", h.out.String(), h2.out.String())
	}
	if _, err := os.Stat(file); err == nil {
		t.Errorf("the interrupted cell wrote %s after its interrupt point", file)
	}
	if r3, _ := run(t, s, "x + 1"); text(r3) != "2" {
		t.Errorf("x + 1 = %q, %+v", text(r3), r3.Err)
	}
}

// Channel operations are cancellable in every cell, the session's first included (yaegi
// compiles them so only after a first ExecuteWithContext), and an interrupted cell's
// evaluation has ended once the interrupt returns, so the next cell starts at once.
func TestInterruptChannelWaitInFirstCell(t *testing.T) {
	for _, code := range []string{"ch := make(chan int)\n<-ch", "ch := make(chan int)\nv := <-ch\n_ = v", "select {}", "func f() { ch := make(chan int); <-ch }\nf()"} {
		s := newSession(t)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(50 * time.Millisecond); cancel() }()
		if r := s.Execute(ctx, code, &memHost{}); !r.Interrupted {
			t.Fatalf("%q: not interrupted: %+v", code, r)
		}
		deadline := time.Now().Add(time.Second)
		for s.Busy() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if s.Busy() {
			t.Errorf("%q: the interrupted evaluation is still running a second later", code)
		}
	}
}
