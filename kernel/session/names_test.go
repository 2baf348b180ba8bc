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

// A cell that declares an existing function or type again and then fails (to compile, with a
// panic, or interrupted) leaves the old definition in force.
func TestFailedCellRedefinitions(t *testing.T) {
	s := newSession(t)
	value := func(code, want string) {
		t.Helper()
		if r, _ := run(t, s, code); r.Err != nil || text(r) != want {
			t.Errorf("%q = %q %+v, want %s", code, text(r), r.Err, want)
		}
	}
	fails := func(code string) {
		t.Helper()
		if r, _ := run(t, s, code); r.Err == nil {
			t.Fatalf("%q did not fail", code)
		}
	}
	run(t, s, "func f() int { return 1 }\ntype T struct{ A int }\nfunc (t T) M() int { return t.A }\nfunc g() int {\n\txs := []int{1}\n\treturn xs[2]\n}")
	fails("func f() int { return 2 }\nundefinedThing()") // the statement chunk fails to compile
	value("f()", "1")
	fails("func f() int { return 3 }\nfunc h() { undefinedThing() }") // the declaring chunk does
	value("f()", "1")
	fails("func f() int { return 4 }\npanic(\"boom\")") // the declaration ran
	value("f()", "1")
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	if r := s.Execute(ctx, "func f() int { return 5 }\ntime.Sleep(400 * time.Millisecond)", &memHost{}); !r.Interrupted {
		t.Fatalf("not interrupted: %+v", r)
	}
	value("f()", "1")
	fails("type T struct{ B string }\nfunc (t T) M() int { return 9 }\nundefinedThing()")
	value("T{A: 2}.M()", "2")
	fails("type T struct{ B string }\npanic(1)")
	value("T{A: 3}", "{A:3}")
	if d := s.types["T"]; !strings.Contains(d, "A int") {
		t.Errorf("the kernel's record of T is %q", d)
	}
	// A reinstated function still reports its panics at the earlier cell's line.
	fails("func g() int { return 0 }\nbad()")
	r, _ := run(t, s, "g()")
	if r.Err == nil || r.Err.Value != "runtime error: index out of range [2] with length 1" || len(r.Err.Traceback) < 2 || !strings.HasPrefix(r.Err.Traceback[1], "6:9: in func g (line and column of the earlier cell") {
		t.Errorf("g() after a failed redefinition: %+v", r.Err)
	}
	// One whose body the kernel rewrote (must) too.
	run(t, s, "func atoi(s string) int { return must(strconv.Atoi(s)) }")
	fails("func atoi(s string) int { return 0 }\nbad()")
	value("atoi(\"7\")", "7")
	// A successful redefinition still takes effect.
	value("func f() int { return 6 }\nf()", "6")
}

// A type that only a failed cell declared can be declared again the same way; a different
// declaration is an error that says why (yaegi keeps a type's first declaration).
func TestFailedCellTypes(t *testing.T) {
	s := newSession(t)
	if r, _ := run(t, s, "type V struct{ A int }\nfunc g() { bad() }"); r.Err == nil {
		t.Fatal("no compile error")
	}
	r, _ := run(t, s, "type V struct{ B string }\nV{B: \"x\"}")
	if r.Err == nil || !strings.Contains(r.Err.Value, "1:6: type V was declared as \"type V struct{ A int }\" by a cell that failed") {
		t.Errorf("a different declaration: %+v", r.Err)
	}
	if r, _ := run(t, s, "type V struct {\n\tA int\n}\nV{A: 1}"); r.Err != nil || text(r) != "{A:1}" {
		t.Errorf("the same declaration again: %q %+v", text(r), r.Err)
	}
	if r, h := run(t, s, "type V struct{ B string }"); r.Err != nil || !strings.Contains(h.err.String(), "already declared") {
		t.Errorf("V defined again is an existing type: %+v %q", r.Err, h.err.String())
	}
}
