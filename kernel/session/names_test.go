package session

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A cell that fails to compile defines none of its names and leaves existing ones as they
// were (value and type); an interrupted cell keeps the definitions that ran and forgets the
// rest. Forgotten names can be defined again.
func TestFailedCellNames(t *testing.T) {
	s := newSession(t)
	undefined := func(code, name string) {
		t.Helper()
		r, _ := run(t, s, code)
		if r.Err == nil || !strings.Contains(r.Err.Value, "undefined: "+name) {
			t.Errorf("%q: want undefined: %s, got %q %+v", code, name, text(r), r.Err)
		}
	}
	value := func(code, want string) {
		t.Helper()
		if r, _ := run(t, s, code); r.Err != nil || text(r) != want {
			t.Errorf("%q = %q %+v, want %s", code, text(r), r.Err, want)
		}
	}
	value("old := 7\nold", "7")
	if r, _ := run(t, s, "fresh := 3\nold := 8\nundefinedThing()"); r.Err == nil {
		t.Fatal("no compile error")
	}
	undefined("fresh", "fresh")
	undefined("fresh = 4", "fresh")
	value("old", "7")
	if r, _ := run(t, s, "func ff() int { return 1 }\ntype TT int\nvar vv int\nbad()"); r.Err == nil {
		t.Fatal("no compile error")
	}
	undefined("ff()", "ff")
	undefined("TT(1)", "TT")
	undefined("vv", "vv")
	if r, _ := run(t, s, "old := 1 + \"s\""); r.Err == nil { // yaegi gives old a new type
		t.Fatal("no compile error")
	}
	value("old + 1", "8")
	for _, n := range s.globalsSorted() {
		if n == "fresh" || n == "vv" {
			t.Errorf("%s listed among the globals", n)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	if r := s.Execute(ctx, "n := 3\ntime.Sleep(400 * time.Millisecond)\nlater := 5\nold := 9", &memHost{}); !r.Interrupted {
		t.Fatalf("not interrupted: %+v", r)
	}
	value("n", "3") // defined before the interrupt point
	undefined("later", "later")
	value("old", "7")
	value("fresh := \"again\"\nfresh", `"again"`)
	value("func ff() int { return 2 }\nff()", "2")
}
