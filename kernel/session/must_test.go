package session

import (
	"strings"
	"testing"
)

func TestMustOneLineErrorHandling(t *testing.T) {
	s := newSession(t)
	runCases(t, s, []cellCase{
		{code: `n := must(strconv.Atoi("42"))` + "\nn", value: "42"},
		{code: `a, b := must(func() (int, string, error) { return 1, "x", nil }())` + "\nfmt.Sprint(a, b)", value: `"1x"`},
		{code: "n = must(strconv.Atoi(\"7\"))\nn", value: "7"},
		{code: "must(os.WriteFile(os.DevNull, nil, 0o644))\nmust(nil)\n1", value: "1"},
		{code: "func twice(s string) int {\n\tv := must(strconv.Atoi(s))\n\treturn 2 * v\n}\ntwice(\"21\")", value: "42"},
		{code: "func parse(s string) int {\n\treturn must(strconv.Atoi(s))\n}\nparse(\"12\")", value: "12"},
		{code: "split := func(s string) (string, string, bool) { return must(func() (string, string, bool, error) { a, b, ok := strings.Cut(s, \"=\"); return a, b, ok, nil }()) }\nk, v, _ := split(\"a=b\")\nk + v", value: `"ab"`},
		{code: "func parseOr(s string) (int, error) {\n\tdefer func() { recover() }()\n\treturn must(strconv.Atoi(s)), nil\n}", err: "must(...) is a statement of its own"},
		{code: "total := 0\nfor _, w := range []string{\"1\", \"2\"} {\n\tv := must(strconv.Atoi(w))\n\ttotal += v\n}\ntotal", value: "3"},
	})
	// A failed must ends the cell at its line with the error itself; nothing after it runs.
	r, h := run(t, s, "after := 0\nm := must(strconv.Atoi(\"x\"))\nafter = 1\nfmt.Println(\"LATE\", m)")
	if r.Err == nil || r.Err.Name != "*strconv.NumError" || r.Err.Value != `strconv.Atoi: parsing "x": invalid syntax` {
		t.Fatalf("failed must: %+v", r.Err)
	}
	if tb := strings.Join(r.Err.Traceback, "\n"); !strings.Contains(tb, "at line 2") || !strings.Contains(tb, `must(strconv.Atoi("x"))`) {
		t.Errorf("traceback does not point at the must: %q", tb)
	}
	if strings.Contains(h.out.String(), "LATE") {
		t.Errorf("statements after a failed must ran: %q", h.out.String())
	}
	if r, _ := run(t, s, "after"); text(r) != "0" {
		t.Errorf("after = %s, want 0", text(r))
	}
	r, _ = run(t, s, "must(os.ReadFile(\"/no/such/file\"))")
	if r.Err == nil || r.Err.Name != "*fs.PathError" || !strings.Contains(r.Err.Value, "no such file") {
		t.Errorf("must of a failed call: %+v", r.Err)
	}
	r, _ = run(t, s, "must(errors.New(\"plain\"))")
	if r.Err == nil || r.Err.Name != "error" || r.Err.Value != "plain" {
		t.Errorf("must(err): %+v", r.Err)
	}
	// Inside an expression it is an error at its position, before anything runs.
	checkErrorPositions(t, s, [][2]string{{"x := 1 + must(strconv.Atoi(\"1\"))", "1:10"}})
	// A cell's own must wins.
	r, _ = run(t, s, "func must(v int) int { return v + 1 }\nmust(1)")
	if r.Err != nil || text(r) != "2" {
		t.Errorf("own must: %v %q", r.Err, text(r))
	}
}

// A cell whose last statement is a call returning (..., error) fails with that error when it
// is not nil; must(...), single results and earlier statements are as before.
func TestUncheckedFinalError(t *testing.T) {
	s := newSession(t)
	run(t, s, "calls := 0\nfunc two() (int, error) { calls++; return 3, fmt.Errorf(\"bad %d\", 3) }\n"+
		"func fine() (int, error) { calls++; return 1, nil }\n"+
		"type myErr struct{}\nfunc (myErr) Error() string { return \"mine\" }\nfunc three() (int, string, error) { return 0, \"\", myErr{} }")
	for _, c := range []struct {
		code, name, value, pos string // name "": the cell succeeds
		show                   string
	}{
		{code: "strconv.Atoi(\"x\")", name: "*strconv.NumError", value: `strconv.Atoi: parsing "x": invalid syntax`, pos: "line 1, column 1"},
		{code: "x := 2\n\ttwo()", name: "error", value: "bad 3", pos: "line 2, column 2"},
		{code: "three()", name: "error", value: "mine", pos: "line 1, column 1"},
		{code: "strconv.Atoi(\"12\")"},
		{code: "fine()"},
		{code: "fmt.Println(\"hi\")"},
		{code: "strconv.Atoi(\"x\")\nfmt.Print()"},
		{code: "fmt.Errorf(\"shown %d\", 1)", show: "shown 1"},
		{code: "must(two())", name: "error", value: "bad 3"},
	} {
		run(t, s, "calls = 0")
		r, _ := run(t, s, c.code)
		if c.name == "" {
			if r.Err != nil || text(r) != c.show {
				t.Errorf("%q: %+v %q, want success showing %q", c.code, r.Err, text(r), c.show)
			}
		} else {
			tb := ""
			if r.Err != nil {
				tb = strings.Join(r.Err.Traceback, "\n")
			}
			if r.Err == nil || !strings.HasSuffix(r.Err.Name, c.name) || r.Err.Value != c.value || !strings.Contains(tb, c.pos) {
				t.Errorf("%q: %+v, want %s: %s at %s", c.code, r.Err, c.name, c.value, c.pos)
			}
			if unchecked := strings.Contains(tb, "nothing checked it"); unchecked == strings.HasPrefix(c.code, "must") {
				t.Errorf("%q: traceback %q", c.code, tb)
			}
		}
		if strings.Contains(c.code, "two()") || strings.Contains(c.code, "fine()") {
			if _, h := run(t, s, "fmt.Print(calls)"); h.out.String() != "1" {
				t.Errorf("%q: the call ran %s times", c.code, h.out.String())
			}
		}
	}
}
