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
