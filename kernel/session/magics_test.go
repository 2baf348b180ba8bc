package session

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The forms and messages are IPython's (8.x): %time's two lines, %%writefile's
// Writing/Overwriting/Appending to, %lsmagic's two lists, ?name and name?.
func TestIPythonMagics(t *testing.T) {
	s := newSession(t)
	timeRE := regexp.MustCompile(`^CPU times: user [0-9.]+ (ns|µs|ms|s), sys: [0-9.]+ (ns|µs|ms|s), total: [0-9.]+ (ns|µs|ms|s)\nWall time: [0-9.]+ (ns|µs|ms|s)\n$`)
	// %time stmt shows the statement's value, like IPython's %time.
	r, h := run(t, s, "%time strings.Repeat(\"ab\", 2)")
	if r.Err != nil || text(r) != `"abab"` || !timeRE.MatchString(h.out.String()) {
		t.Errorf("%%time expr: value %q, output %q, %v", text(r), h.out.String(), r.Err)
	}
	r, h = run(t, s, "%%time\nsum := 0\nfor i := 0; i < 100; i++ { sum += i }\nsum")
	if r.Err != nil || text(r) != "4950" || !timeRE.MatchString(h.out.String()) {
		t.Errorf("%%%%time: value %q, output %q, %v", text(r), h.out.String(), r.Err)
	}
	// An error keeps its line number under a %time line.
	r, _ = run(t, s, "%time x := 1\ny := undefinedThing")
	if r.Err == nil || !strings.HasPrefix(r.Err.Value, "2:6:") {
		t.Errorf("error after %%time: %+v", r.Err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "hello.go")
	for _, c := range []struct{ cell, out, file string }{
		{"%%writefile " + path + "\npackage main\n%notamagic\n", "Writing " + path + "\n", "package main\n%notamagic\n"},
		{"%%writefile " + path + "\nfunc wfBody() {}", "Overwriting " + path + "\n", "func wfBody() {}\n"},
		{"%%writefile -a " + path + "\n// more", "Appending to " + path + "\n", "func wfBody() {}\n// more\n"},
	} {
		r, h := run(t, s, c.cell)
		b, _ := os.ReadFile(path)
		if r.Err != nil || h.out.String() != c.out || string(b) != c.file {
			t.Errorf("%q: output %q, file %q, %v", c.cell, h.out.String(), b, r.Err)
		}
	}
	if r, _ := run(t, s, "wfBody"); r.Err == nil {
		t.Error("%%writefile ran its body")
	}

	_, h = run(t, s, "%lsmagic")
	for _, want := range []string{"Available line magics:\n", "%time", "%env", "Available cell magics:\n", "%%time", "%%writefile"} {
		if !strings.Contains(h.out.String(), want) {
			t.Errorf("%%lsmagic lacks %q: %q", want, h.out.String())
		}
	}

	_, h = run(t, s, "%env ORDERMERGE_MAGIC_A=1\n%env ORDERMERGE_MAGIC_B two words")
	if out := h.out.String(); out != "env: ORDERMERGE_MAGIC_A=1\nenv: ORDERMERGE_MAGIC_B=two words\n" {
		t.Errorf("%%env set: %q", out)
	}
	if r, _ := run(t, s, `os.Getenv("ORDERMERGE_MAGIC_B")`); text(r) != `"two words"` {
		t.Errorf("%%env NAME VALUE: %q", text(r))
	}

	run(t, s, "// adds two ints\nfunc add(a, b int) int { return a + b }")
	for _, cell := range []string{"?add", "add?", "add??", "  ?add\n"} {
		r, h := run(t, s, cell)
		if r.Err != nil || len(h.displays) != 1 || !strings.Contains(h.displays[0]["text/plain"].(string), "func add(a, b int) int") {
			t.Errorf("%q: %v %v", cell, h.displays, r.Err)
		}
	}
	r, h = run(t, s, "strings.ToUpper?")
	if r.Err != nil || len(h.displays) != 1 || !strings.Contains(h.displays[0]["text/plain"].(string), "ToUpper") {
		t.Errorf("strings.ToUpper?: %v %v", h.displays, r.Err)
	}
	if r, _ := run(t, s, "?nothingByThatName"); r.Err == nil || r.Err.Name != "NameError" {
		t.Errorf("?unknown: %+v", r.Err)
	}
	if m, _, _ := s.Complete("%%wr", 4); len(m) != 1 || m[0] != "%%writefile" {
		t.Errorf("completing %%%%wr: %v", m)
	}
}
