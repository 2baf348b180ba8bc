package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// memHost records everything a cell produces.
type memHost struct {
	mu       sync.Mutex
	out, err bytes.Buffer
	displays []map[string]any
	updates  []string
	inputs   []string
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

func (h *memHost) Stdout() io.Writer { return lockedWriter{&h.mu, &h.out} }
func (h *memHost) Stderr() io.Writer { return lockedWriter{&h.mu, &h.err} }
func (h *memHost) PublishDisplay(data, _ map[string]any, id string, update bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.displays = append(h.displays, data)
	if update {
		h.updates = append(h.updates, id)
	}
	return nil
}
func (h *memHost) Input(prompt string, password bool) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.inputs) == 0 {
		return "", errors.New("no input")
	}
	s := h.inputs[0]
	h.inputs = h.inputs[1:]
	return s, nil
}

func newSession(t *testing.T) *Session {
	t.Helper()
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func run(t *testing.T, s *Session, code string) (Result, *memHost) {
	t.Helper()
	h := &memHost{}
	return s.Execute(context.Background(), code, h), h
}

func text(r Result) string {
	if r.Data == nil {
		return ""
	}
	return fmt.Sprint(r.Data["text/plain"])
}

func TestStateAcrossCellsAndValues(t *testing.T) {
	s := newSession(t)
	cases := []struct{ code, value, stdout string }{
		{"x := 40", "", ""},
		{"x + 2", "42", ""},
		{"import \"fmt\"\nfmt.Println(\"hi\", x)", "", "hi 40\n"},
		{"func double(v int) int { return 2 * v }\ndouble(x)", "80", ""},
		{"fmt.Println(\"again\")", "", "again\n"},
		{"strings.ToUpper(\"abc\")", `"ABC"`, ""},                       // preloaded package without import
		{"type P struct{ A, B int }\np := P{1, 2}\np", "{A:1 B:2}", ""}, // structs show their field names, as fmt's %+v
		{"p.A = 7\np.A", "7", ""},
		{"func() int { return 5 }()", "5", ""},
		{"float64(x) / 8", "5", ""},
		{"len(\"abcd\")", "4", ""},
		{"var y int\ny = 3", "", ""},
		{"func main() { fmt.Println(\"main ran\") }", "", "main ran\n"},
		{"1 + 1", "2", ""}, // main must not run again
		{"import \"fmt\"\nimport \"strings\"\nstrings.Repeat(\"a\", 3)", `"aaa"`, ""},
		{"var b bytes.Buffer\nb.WriteString(\"x\")\ndisplay.Text(b.String())", "", ""}, // nil error: no value
		{"fmt.Errorf(\"bad %d\", 1)", "bad 1", ""},
	}
	for _, c := range cases {
		r, h := run(t, s, c.code)
		if r.Err != nil {
			t.Fatalf("%q: error %v %v", c.code, r.Err, r.Err.Traceback)
		}
		if got := text(r); got != c.value {
			t.Errorf("%q: value %q, want %q", c.code, got, c.value)
		}
		if got := h.out.String(); got != c.stdout {
			t.Errorf("%q: stdout %q, want %q", c.code, got, c.stdout)
		}
	}
}

func TestErrorsCarryCellPositions(t *testing.T) {
	checkErrorPositions(t, newSession(t), [][2]string{
		{"a := 1\n\nb := a +\n", "4:1"},
		{"x := 1\ny := undefinedName + 1", "2:6"},
		{"var q int = \"s\"", "1:13"},
		{"import \"no/such/pkg\"", "1:8"},
		{"\n\n  var zz string = 3", "3:19"},
	})
}

// checkErrorPositions runs each cell (code, "line:col") and checks that it fails at that
// position of the cell.
func checkErrorPositions(t *testing.T, s *Session, cases [][2]string) {
	t.Helper()
	for _, c := range cases {
		r, _ := run(t, s, c[0])
		if r.Err == nil {
			t.Fatalf("%q: no error", c[0])
		}
		if !strings.HasPrefix(r.Err.Value, c[1]+":") {
			t.Errorf("%q: error %q, want position %s", c[0], r.Err.Value, c[1])
		}
	}
}

func TestPanicsBecomeErrors(t *testing.T) {
	s := newSession(t)
	r, h := run(t, s, "v := []int{1}\n_ = v[3]")
	if r.Err == nil || r.Err.Name != "panic" || !strings.Contains(r.Err.Value, "index out of range") {
		t.Fatalf("index panic: %+v", r.Err)
	}
	if strings.Contains(h.err.String(), "panic") {
		t.Errorf("yaegi's panic line leaked to stderr: %q", h.err.String())
	}
	r, _ = run(t, s, "panic(\"boom\")")
	if r.Err == nil || r.Err.Value != "boom" {
		t.Fatalf("panic: %+v", r.Err)
	}
	// A goroutine panic fails its cell (which would otherwise wait forever).
	r, _ = run(t, s, "done := make(chan bool)\ngo func() { panic(\"in goroutine\"); done <- true }()\n<-done")
	if r.Err == nil || r.Err.Name != "GoroutinePanic" || !strings.Contains(r.Err.Value, "in goroutine") {
		t.Fatalf("goroutine panic: %+v", r.Err)
	}
	r, _ = run(t, s, "func boom(msg string) { panic(msg) }\nch := make(chan int)\ngo boom(\"named\")\n<-ch")
	if r.Err == nil || r.Err.Name != "GoroutinePanic" || !strings.Contains(r.Err.Value, "named") {
		t.Fatalf("go f(x) panic: %+v", r.Err)
	}
	r, _ = run(t, s, "1 + 2")
	if text(r) != "3" {
		t.Fatalf("session unusable after panics: %+v", r)
	}
}

func TestGoStatementKeepsArgumentValues(t *testing.T) {
	s := newSession(t)
	r, _ := run(t, s, "import \"sync\"\nvar wg sync.WaitGroup\nres := make([]int, 3)\nset := func(k int) { res[k] = k + 1; wg.Done() }\nfor i := 0; i < 3; i++ { wg.Add(1); go set(i) }\nwg.Wait()\nres")
	if r.Err != nil || text(r) != "[1 2 3]" {
		t.Fatalf("got %q %+v", text(r), r.Err)
	}
}

func TestInterruptStopsInfiniteLoop(t *testing.T) {
	s := newSession(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	start := time.Now()
	r := s.Execute(ctx, "n := 0\nfor { n++ }", &memHost{})
	if !r.Interrupted {
		t.Fatalf("not interrupted: %+v", r)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("interrupt took %v", d)
	}
	r2, _ := run(t, s, "n > 0")
	if text(r2) != "true" {
		t.Fatalf("state lost after interrupt: %q %+v", text(r2), r2.Err)
	}
}

func TestDisplayAndInput(t *testing.T) {
	s := newSession(t)
	h := &memHost{inputs: []string{"Ada", "42"}}
	r := s.Execute(context.Background(), `display.HTML("<b>x</b>")
name, _ := display.Input("name? ")
var n int
fmt.Scanln(&n)
id := display.NewID()
display.ShowID(id, "first")
display.Update(id, "second")
type H struct{}
func (H) HTML() string { return "<i>h</i>" }
display.Show(H{})
fmt.Println(name, n)`, h)
	if r.Err != nil {
		t.Fatalf("%v %v", r.Err, r.Err.Traceback)
	}
	if h.out.String() != "Ada 42\n" {
		t.Errorf("stdout %q", h.out.String())
	}
	if len(h.displays) != 4 || h.displays[0]["text/html"] != "<b>x</b>" || h.displays[3]["text/html"] != "<i>h</i>" {
		t.Errorf("displays %v", h.displays)
	}
	if len(h.updates) != 1 {
		t.Errorf("updates %v", h.updates)
	}
}

func TestCompleteInspectIsComplete(t *testing.T) {
	s := newSession(t)
	run(t, s, "type Point struct{ X, Y int }\nfunc (p Point) Norm1() int { return p.X + p.Y }\npt := Point{1, 2}\nmyCounter := 3")
	m, start, end := s.Complete("myC", 3)
	if len(m) != 1 || m[0] != "myCounter" || start != 0 || end != 3 {
		t.Errorf("myC: %v %d %d", m, start, end)
	}
	m, start, _ = s.Complete("x := strings.ToU", 16)
	if len(m) != 2 || m[0] != "ToUpper" || m[1] != "ToUpperSpecial" || start != 13 {
		t.Errorf("strings.ToU: %v %d", m, start)
	}
	m, _, _ = s.Complete("pt.", 3)
	if strings.Join(m, ",") != "Norm1,X,Y" { // methods declared in cells too
		t.Errorf("pt.: %v", m)
	}
	m, start, _ = s.Complete("é := myC", 8) // code points, not bytes
	if len(m) != 1 || start != 5 {
		t.Errorf("unicode: %v %d", m, start)
	}
	if m, _, _ := s.Complete("zzz", 3); m == nil || len(m) != 0 {
		t.Errorf("no match must be empty, not nil: %#v", m)
	}
	d, ok := s.Inspect("strings.ToUpper", 10)
	if !ok || !strings.Contains(d["text/plain"].(string), "func strings.ToUpper(string) string") {
		t.Errorf("inspect strings.ToUpper: %v", d)
	}
	d, ok = s.Inspect("myCounter", 2)
	if !ok || !strings.Contains(d["text/plain"].(string), "myCounter int = 3") {
		t.Errorf("inspect var: %v", d)
	}
	for code, want := range map[string]string{
		"x := 1":           "complete",
		"func f() {":       "incomplete",
		"x := 1 +":         "incomplete",
		"s := `abc":        "incomplete",
		"x := 1)":          "invalid",
		"%time\nfor {":     "incomplete",
		"for i := range x": "incomplete",
	} {
		if got, _ := s.IsComplete(code); got != want {
			t.Errorf("IsComplete(%q) = %s, want %s", code, got, want)
		}
	}
}

func TestMagics(t *testing.T) {
	s := newSession(t)
	run(t, s, "alpha := 1\nfunc beta() {}")
	_, h := run(t, s, "%who")
	if !strings.Contains(h.out.String(), "alpha") || !strings.Contains(h.out.String(), "beta") {
		t.Errorf("%%who: %q", h.out.String())
	}
	_, h = run(t, s, "%env ORDERMERGE_TEST_VAR=xyz\n%env ORDERMERGE_TEST_VAR")
	if !strings.Contains(h.out.String(), "xyz\n") {
		t.Errorf("%%env: %q", h.out.String())
	}
	r, _ := run(t, s, "os.Getenv(\"ORDERMERGE_TEST_VAR\")")
	if text(r) != `"xyz"` {
		t.Errorf("interpreted getenv: %q %+v", text(r), r.Err)
	}
	_, h = run(t, s, "%time\nx := 0\nfor i := 0; i < 1000; i++ { x += i }")
	if !strings.Contains(h.out.String(), "Wall time:") {
		t.Errorf("%%time: %q", h.out.String())
	}
	_, h = run(t, s, "%help")
	if !strings.Contains(h.out.String(), "display.Context()") {
		t.Errorf("%%help: %q", h.out.String())
	}
	run(t, s, "%reset")
	r, _ = run(t, s, "alpha")
	if r.Err == nil {
		t.Errorf("alpha survived %%reset")
	}
	r, _ = run(t, s, "%nosuch")
	if r.Err == nil || r.Err.Name != "UsageError" {
		t.Errorf("unknown magic: %+v", r.Err)
	}
}

// Unbalanced closing brackets are a syntax error, not a crash (jupyter console sends a lone
// "}" as its own cell when a multi-line function is typed line by line).
func TestUnbalancedClosingBracket(t *testing.T) {
	s := newSession(t)
	for _, code := range []string{"}", "  )\n", "x := 1\n}", "]"} {
		r, _ := run(t, s, code)
		if r.Err == nil || r.Err.Name != "CompileError" {
			t.Errorf("%q: %+v", code, r.Err)
		}
	}
	if r, _ := run(t, s, "1 + 1"); text(r) != "2" {
		t.Fatalf("session unusable: %+v", r)
	}
}

func TestExitCell(t *testing.T) {
	s := newSession(t)
	for _, code := range []string{"exit", " quit\n", "exit()"} {
		if r, _ := run(t, s, code); !r.Exit || r.Err != nil {
			t.Errorf("%q: %+v", code, r)
		}
	}
	if r, _ := run(t, s, "exit := 3\nexit"); r.Exit || text(r) != "3" {
		t.Errorf("a variable named exit: %+v", r)
	}
}
