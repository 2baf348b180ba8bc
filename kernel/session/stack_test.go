package session

import (
	"fmt"
	"strings"
	"testing"
)

// Runtime and compile errors read like Go's own, at the cell's line and column, with the
// cell functions a panic went through.
func TestErrorsReadLikeGo(t *testing.T) {
	s := newSession(t)
	for _, c := range []struct {
		code, msg, pos string
		stack          []string // further traceback lines expected
	}{
		{"func get(xs []int, i int) int {\n\tn := len(xs)\n\t_ = n\n\treturn xs[i]\n}\nget([]int{1, 2, 3}, 5)", "runtime error: index out of range [5] with length 3", "4:9: in func get",
			[]string{"  6:1: in the cell"}},
		{"xs := []int{1, 2, 3}\nfmt.Println(len(xs))\nxs[5]", "runtime error: index out of range [5] with length 3", "3:1: in the cell", nil},
		{"type node struct{ next *node; v int }\nvar n *node\nfmt.Println(n.v)", "runtime error: invalid memory address or nil pointer dereference", "3:13: in the cell", nil},
		{"var v any = \"s\"\nk := v.(int)\n_ = k", "interface conversion: interface {} is string, not int", "2:6: in the cell", nil},
		{"z := 0\nfmt.Println(1 / z)", "runtime error: integer divide by zero", "2:13: in the cell", nil},
		{"var m map[string]int\nfmt.Println(1)\nm[\"a\"] = 1", "assignment to entry in nil map", "3:1: in the cell", nil},
		{"func inner(xs []int) int { return xs[3] }\nfunc outer() int {\n\treturn inner([]int{1})\n}\nouter()", "runtime error: index out of range [3] with length 1", "1:35: in func inner",
			[]string{"called from:", "  3:15: in func outer", "  5:1: in the cell"}},
		{"x := 1 << 70", "1:6: cannot use 1 << 70 (untyped int constant 1180591620717411303424) as int value (overflows)", "", nil},
		{"a, b := 1", "1:1: assignment mismatch: 2 variables but 1 value", "", nil},
		{"a, b, c := 1, 2", "1:1: assignment mismatch: 3 variables but 2 values", "", nil},
	} {
		r, _ := run(t, s, c.code)
		if r.Err == nil {
			t.Errorf("%q: no error", c.code)
			continue
		}
		if r.Err.Value != c.msg {
			t.Errorf("%q: message %q, want %q", c.code, r.Err.Value, c.msg)
		}
		tb := strings.Join(r.Err.Traceback, "\n")
		if c.pos != "" && (len(r.Err.Traceback) < 2 || r.Err.Traceback[1] != c.pos) {
			t.Errorf("%q: traceback %q, want position %q", c.code, r.Err.Traceback, c.pos)
		}
		for _, l := range c.stack {
			if !strings.Contains(tb, l) {
				t.Errorf("%q: traceback %q lacks %q", c.code, r.Err.Traceback, l)
			}
		}
	}
}

// A panic in a function of an earlier cell points at that cell's line.
func TestPanicInEarlierCellFunction(t *testing.T) {
	s := newSession(t)
	run(t, s, "func first(xs []string) string {\n\treturn xs[0]\n}")
	r, _ := run(t, s, "fmt.Println(\"x\")\nfirst(nil)")
	if r.Err == nil || len(r.Err.Traceback) < 2 || !strings.HasPrefix(r.Err.Traceback[1], "2:9: in func first (line and column of the earlier cell") {
		t.Fatalf("%+v", r.Err)
	}
	if !strings.Contains(strings.Join(r.Err.Traceback, "\n"), "2:1: in the cell") {
		t.Errorf("no top-level frame: %q", r.Err.Traceback)
	}
}

// An index out of range reports Go's "[i] with length n" whatever its operands are, at the
// failing index's own position, and evaluates them once (the counters count one call).
func TestIndexOutOfRangeOperands(t *testing.T) {
	s := newSession(t)
	run(t, s, "calls := 0\nfunc data() []int { calls++; return []int{1, 2, 3} }\nfunc at() int { calls++; return 7 }\n"+
		"m := map[string][]int{\"a\": {1, 2}}\ngrid := [][]int{{1, 2, 3}, {4}}")
	for _, c := range []struct {
		code, msg, pos string
	}{
		{"func f() int {\n\treturn data()[at()]\n}\nf()", "[7] with length 3", "2:9: in func f"},
		{"func g(k string) int {\n\tv := m[\"a\"][0]\n\treturn v + m[k][5]\n}\ng(\"a\")", "[5] with length 2", "3:13: in func g"},
		{"func h() int {\n\ts := 0\n\tfor i := 0; i < 3; i++ {\n\t\tfor j := 0; j < 3; j++ {\n\t\t\ts += grid[i][j]\n\t\t}\n\t}\n\treturn s\n}\nh()", "[1] with length 1", "5:9: in func h"},
		{"func k() int {\n\tget := func(i int) int { return data()[i] }\n\treturn get(1) + get(4)\n}\nk()", "[4] with length 3", "2:34: in func k (a function literal in it)"},
		{"fmt.Println(data()[0], data()[at()])", "[7] with length 3", "1:24: in the cell"},
		{"total := 0\nfor i := 0; i < 5; i++ {\n\ttotal += grid[0][i]\n}", "[3] with length 3", "3:11: in a function literal of the cell"},
		{"lit := func() int { return grid[1][at()] }\nlit()", "[7] with length 1", "1:28: in a function literal of the cell"},
		{"func neg(i int) int { return grid[0][i] }\nneg(-1)", "[-1]", "1:30: in func neg"},
		{"func str(s string, i int) byte { return s[i] }\nstr(\"go\", 2)", "[2] with length 2", "1:41: in func str"},
		{"func spin(xs []int) int {\n\ti, s := 0, 0\n\tfor {\n\t\ts += xs[i]\n\t\ti++\n\t}\n\treturn s\n}\nspin(data())", "[3] with length 3", "4:8: in func spin"},
		{"func() {\n\tfor i := 0; ; i++ {\n\t\t_ = grid[i][0]\n\t}\n}()", "[2] with length 2", "3:7: in a function literal of the cell"},
	} {
		run(t, s, "calls = 0")
		r, _ := run(t, s, c.code)
		if r.Err == nil {
			t.Errorf("%q: no error", c.code)
			continue
		}
		if want := "runtime error: index out of range " + c.msg; r.Err.Value != want {
			t.Errorf("%q: message %q, want %q", c.code, r.Err.Value, want)
		}
		if len(r.Err.Traceback) < 2 || r.Err.Traceback[1] != c.pos {
			t.Errorf("%q: traceback %q, want position %q", c.code, r.Err.Traceback, c.pos)
		}
		if strings.Contains(c.code, "at()") || strings.Contains(c.code, "data()") {
			want := strings.Count(c.code, "at()") + strings.Count(c.code, "data()")
			if strings.Contains(c.code, "get(1) + get(4)") {
				want = 2 // get runs twice, each calls data once
			}
			if _, h := run(t, s, "fmt.Println(calls)"); strings.TrimSpace(h.out.String()) != fmt.Sprint(want) {
				t.Errorf("%q: the operands' functions ran %s times, want %d", c.code, strings.TrimSpace(h.out.String()), want)
			}
		}
	}
}
