package session

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A small compiled package standing in for sft and merge in the tests of the rewrites: what
// matters to the interpreter is that its values have compiled (not interpreted) types.

type labRecord struct {
	ID   string
	Loss float64
}

type labResult struct {
	Steps   int
	Records []labRecord
	ByID    map[string]*labRecord
	Names   []string
}

func (r *labResult) Bump() { r.Steps++ }

func (r *labResult) Best() (labRecord, error) {
	if len(r.Records) == 0 {
		return labRecord{}, errors.New("no records")
	}
	return r.Records[0], nil
}

type labConfig struct {
	Steps    int
	Progress func(step int, loss float64)
	Params   map[string]any
}

func labRun(k int) ([]*labResult, error) {
	out := make([]*labResult, k)
	for i := range out {
		r := &labResult{Steps: 10 * (i + 1), ByID: map[string]*labRecord{}}
		for j, id := range []string{"a", "b", "c"} {
			r.Records = append(r.Records, labRecord{ID: id, Loss: float64(i + j)})
		}
		for j := range r.Records {
			r.ByID[r.Records[j].ID] = &r.Records[j]
		}
		r.Names = []string{"x", "y"}
		out[i] = r
	}
	return out, nil
}

func labTrain(ctx context.Context, cfg labConfig) (*labResult, error) {
	r := &labResult{}
	for s := 1; s <= cfg.Steps; s++ {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		r.Steps = s
		if cfg.Progress != nil {
			cfg.Progress(s, 1/float64(s))
		}
	}
	return r, nil
}

var labSymbols = map[string]map[string]reflect.Value{
	"lab.test/lab/lab": {
		"Run":    reflect.ValueOf(labRun),
		"Train":  reflect.ValueOf(labTrain),
		"Result": reflect.ValueOf((*labResult)(nil)),
		"Record": reflect.ValueOf((*labRecord)(nil)),
		"Config": reflect.ValueOf((*labConfig)(nil)),
	},
}

func newLabSession(t *testing.T) *Session {
	t.Helper()
	s, err := New(Options{Symbols: []map[string]map[string]reflect.Value{labSymbols}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// cellCase is one cell and what it must show: its value (text/plain), its stdout, or, when
// err is set, an error whose value contains err.
type cellCase struct {
	code, value, stdout, err string
}

func runCases(t *testing.T, s *Session, cases []cellCase) {
	t.Helper()
	for _, c := range cases {
		r, h := run(t, s, c.code)
		if c.err != "" {
			if r.Err == nil || !strings.Contains(r.Err.Value, c.err) {
				t.Errorf("%q: error %+v, want one containing %q", c.code, r.Err, c.err)
			}
			continue
		}
		if r.Err != nil {
			t.Errorf("%q: error %v\n%s", c.code, r.Err, strings.Join(r.Err.Traceback, "\n"))
			continue
		}
		if got := text(r); got != c.value {
			t.Errorf("%q: value %q, want %q", c.code, got, c.value)
		}
		if got := h.out.String(); got != c.stdout {
			t.Errorf("%q: stdout %q, want %q", c.code, got, c.stdout)
		}
	}
}

// The reported bug: after results, err := f() with f compiled and returning ([]*T, error),
// results[0].Steps worked but rx := results[1] failed with "constant definition loop".
func TestIndexOfCompiledSliceInLaterCell(t *testing.T) {
	s := newLabSession(t)
	runCases(t, s, []cellCase{
		{code: "k := 2\nresults, err := lab.Run(k)\nfmt.Println(len(results), err)", stdout: "2 <nil>\n"},
		{code: "results[0].Steps", value: "10"},
		{code: "rx := results[1]\nrx.Steps", value: "20"},
		{code: "r0 := results[0].Records[1]\nr0.ID", value: `"b"`},
		{code: "recs := results[1].Records\nfirst := recs[2]\nfirst.Loss", value: "3"},
		{code: "w := results[0].ByID[\"c\"]\nw.Loss", value: "2"},
		{code: "n := len(results[0].Records) + 1\nn", value: "4"},
		{code: "p := &results[0].Records[0]\np.Loss = 9\nresults[0].ByID[\"a\"].Loss", value: "9"},
		{code: "best, err := results[1].Best()\nbest.ID", value: `"a"`},
		{code: "f := results[1].Best\nb2, _ := f()\nb2.Loss", value: "1"},
		{code: "var v = results[1].Names[1]\nv", value: `"y"`},
		{code: "fields := strings.Fields(\"a b c\")\nfz := fields[2]\nfz", value: `"c"`},
		{code: "parts := strings.Split(\"a,b\", \",\")\np0, p1 := parts[0], parts[1]\np0 + p1", value: `"ab"`},
		// Typed from its value after a first failure (the kernel cannot type a + b itself).
		{code: "joined := strings.ToUpper(\"ab\") + strings.ToLower(\"CD\")", value: ""},
		{code: "c := joined[0]\nc", value: "65"},
		// A redefinition forgets the recorded type.
		{code: "rx := 5\nrx + 1", value: "6"},
	})
}

func TestTopLevelCommaOK(t *testing.T) {
	s := newLabSession(t)
	runCases(t, s, []cellCase{
		{code: "results, _ := lab.Run(1)\nm := map[string]int{\"a\": 1}\nvar anyv any = results[0]\nch := make(chan string, 1)\nch <- \"msg\""},
		{code: "v, ok := m[\"a\"]\nfmt.Println(v, ok)", stdout: "1 true\n"},
		{code: "keys := []string{\"zz\"}\nv2, ok2 := m[keys[0]]\nfmt.Println(v2, ok2)", stdout: "0 false\n"},
		{code: "rec, found := results[0].ByID[\"b\"]\nfmt.Println(rec.ID, found)", stdout: "b true\n"},
		{code: "r, isResult := anyv.(*lab.Result)\nfmt.Println(r.Steps, isResult)", stdout: "10 true\n"},
		{code: "_, isInt := anyv.(int)\nisInt", value: "false"},
		{code: "msg, open := <-ch\nfmt.Println(msg, open)", stdout: "msg true\n"},
		{code: "v, ok = m[\"zz\"]\nok", value: "false"}, // plain assignment, untouched
	})
}

func TestTopLevelCompoundStatements(t *testing.T) {
	s := newLabSession(t)
	runCases(t, s, []cellCase{
		{code: "results, _ := lab.Run(2)\nm := map[string]int{\"a\": 1}\nvar anyv any = 3"},
		// Multi-value := inside a loop body was "undefined".
		{code: "for _, r := range results {\n\tbest, err := r.Best()\n\tfmt.Println(best.ID, err)\n}", stdout: "a <nil>\na <nil>\n"},
		{code: "for _, k := range []string{\"a\", \"b\"} { if v, ok := m[k]; ok { fmt.Println(k, v) } }", stdout: "a 1\n"},
		{code: "switch x := anyv.(type) {\ncase int:\n\tfmt.Println(\"int\", x)\n}", stdout: "int 3\n"},
		{code: "{ a, b, _ := strings.Cut(\"p,q\", \",\"); fmt.Println(a, b) }", stdout: "p q\n"},
		{code: "for i := 0; i < 2; i++ {}\ni", err: "undefined: i"}, // loop variables stay in the loop
		{code: "outer:\nfor i := 0; i < 3; i++ {\n\tfor j := 0; j < 3; j++ {\n\t\tif j == 1 { continue outer }\n\t\tif i == 2 { break outer }\n\t\tfmt.Print(i, j, \" \")\n\t}\n}", stdout: "0 0 1 0 "},
		{code: "total := 0\nfor _, r := range results { total += r.Steps }\ntotal", value: "30"},
	})
}

func TestTopLevelDeferRunsOnceAtCellEnd(t *testing.T) {
	s := newLabSession(t)
	runCases(t, s, []cellCase{
		{code: "xs := []int{1}\ndefer fmt.Println(\"d1\", len(xs))\ndefer func() { fmt.Println(\"d2\") }()\nxs = append(xs, 2)\nfmt.Println(\"body\", len(xs))",
			stdout: "body 2\nd2\nd1 1\n"},
		{code: "fmt.Println(\"next\")", stdout: "next\n"}, // the defers do not run again
		{code: "defer panic(\"late\")\nfmt.Println(\"ran\")", err: "late"},
	})
}

func TestNewerGoFeatures(t *testing.T) {
	s := newLabSession(t)
	runCases(t, s, []cellCase{
		{code: "for i := range 3 { fmt.Print(i) }", stdout: "012"},
		{code: "n := 2\nfor range n { fmt.Print(\"x\") }", stdout: "xx"},
		// The key has the type of the range expression, as in Go.
		{code: "var n64 int64 = 3\nvar sum int64\nfor i := range n64 { sum += i }\nsum", value: "3"},
		{code: "func count(n uint8) (c uint8) {\n\tfor i := range n { c += i }\n\treturn c\n}\ncount(4)", value: "6"},
		{code: "results, _ := lab.Run(1)\nfor i := range results[0].Steps { _ = i }\n\"ok\"", value: `"ok"`},
		{code: "func squares(k int) []int {\n\tout := []int{}\n\tfor i := range k { out = append(out, i*i) }\n\treturn out\n}\nsquares(4)", value: "[0 1 4 9]"},
		{code: "word := \"héllo\"\nfor i := range word { fmt.Print(i, \" \") }", stdout: "0 1 3 4 5 "},
		{code: "for i := range \"aé\" + \"b\" { fmt.Print(i) }", stdout: "013"},
		{code: "var arr [3]int\npa := &arr\nfor i := range pa { pa[i] = i + 1 }\nfor _, v := range pa { fmt.Print(v) }", stdout: "123"},
		{code: "min(3, 1, 2)", value: "1"},
		{code: "f := 0.5\nmax(f, 2)", value: "2"},
		{code: "min(2.5, 1)", value: "1"},
		{code: "max(\"a\", \"b\")", value: `"b"`},
		{code: "math.Signbit(min(0.0, math.Copysign(0, -1)))", value: "true"},
		{code: "math.IsNaN(max(1, math.NaN()))", value: "true"},
		{code: "m := map[string]int{\"a\": 1}\nclear(m)\nlen(m)", value: "0"},
		{code: "zs := []int{1, 2}\nclear(zs)\nzs", value: "[0 0]"},
		{code: "type pt struct{ X int }\nps := []pt{{1}, {2}}\nclear(ps)\nps[1].X", value: "0"},
	})
}

func TestVarFromEarlierCell(t *testing.T) {
	s := newLabSession(t)
	runCases(t, s, []cellCase{
		{code: "xs := strings.Fields(\"a b\")\nn := 3"},
		{code: "var anyv any = xs\nvar m = n + 1\nfmt.Println(anyv, m)", stdout: "[a b] 4\n"},
		{code: "var (\n\tq1 = n\n\tq2 = q1 * 2\n)\nq2", value: "6"},
		{code: "var counter int\nfunc inc() { counter++ }\ninc()\ncounter", value: "1"},
	})
}

func TestCallbacksAndCompiledLiterals(t *testing.T) {
	s := newLabSession(t)
	runCases(t, s, []cellCase{
		{code: "steps := 0\nlast := 0.0\ncfg := lab.Config{Steps: 4, Params: map[string]any{\"t\": 0.5, \"names\": []string{\"a\"}}}\n" +
			"cfg.Progress = func(step int, loss float64) { steps++; last = loss }\n" +
			"res, err := lab.Train(context.Background(), cfg)\nfmt.Println(res.Steps, err, steps, last)", stdout: "4 <nil> 4 0.25\n"},
		{code: "cfg.Params[\"t\"]", value: "0.5"},
		{code: "byName := map[string]*lab.Result{}\nbyName[\"r\"] = res\nbyName[\"r\"].Bump()\nres.Steps", value: "5"},
		{code: "all := []*lab.Result{}\nall = append(all, res, res)\nlen(all)", value: "2"},
		{code: "bump := res.Bump\nbump()\nres.Steps", value: "6"},
	})
}

// Errors in rewritten code still point at the cell's own line and column.
func TestErrorPositionsAfterRewrites(t *testing.T) {
	s := newLabSession(t)
	run(t, s, "results, _ := lab.Run(2)\nm := map[string]int{}")
	checkErrorPositions(t, s, [][2]string{
		{"for _, r := range results {\n\tx := r.Steps + \"s\"\n}", "2:7"},
		{"v, ok := m[\"a\"]\nw := v + \"s\"", "2:6"},
		{"rx := results[1]\ny := rx.Nope", "2:6"},
		{"for i := range 3 { fmt.Println(undefinedName) }", "1:32"},
		{"var (\n\ta int = 1\n\tb string = a\n)", "3:13"},
		{"n, err := strconv.Atoi(5)", "1:24"},
		{"var (\n\tq, r = strconv.Atoi(\"1\")\n\tz = q + \"s\"\n)", "3:6"},
		{"best, err := results[0].Best()\nbest.ID + 1", "2:1"},
	})
}

// Compiled calls passed display.Context() (here the cell's context through a compiled
// training loop) stop when the cell is interrupted, also from inside a rewritten loop.
func TestInterruptInsideRewrittenLoop(t *testing.T) {
	s := newLabSession(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	start := time.Now()
	r := s.Execute(ctx, "n := 0\nfor _, k := range []int{1} { for { n += k } }", &memHost{})
	if !r.Interrupted {
		t.Fatalf("not interrupted: %+v", r)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("interrupt took %v", d)
	}
	if r2, _ := run(t, s, "n > 0"); text(r2) != "true" {
		t.Fatalf("state lost after interrupt: %q %+v", text(r2), r2.Err)
	}
}

func TestSrcMapOrig(t *testing.T) {
	src := "abcdef"
	out, sorted := applyEdits(src, []edit{{2, 2, "XY"}, {4, 5, "Q"}})
	if out != "abXYcdQf" {
		t.Fatalf("applyEdits: %q", out)
	}
	var m srcMap
	m.add(sorted)
	for o, want := range map[int]int{0: 0, 1: 1, 2: 2, 3: 2, 4: 2, 5: 3, 6: 4, 7: 5} {
		if got := m.orig(o); got != want {
			t.Errorf("orig(%d) = %d, want %d", o, got, want)
		}
	}
}

// A final variable of a type declared in a cell is shown through its methods (yaegi's value
// of it has none).
func TestInterpretedValueShownWithItsMethods(t *testing.T) {
	s := newLabSession(t)
	runCases(t, s, []cellCase{
		{code: "type model struct{ name string }\nfunc (m model) String() string { return \"model \" + m.name }\nmm := model{\"a\"}\nmm", value: "model a"},
		{code: "type plain struct{ A int }\npl := plain{4}\npl", value: "{A:4}"},
		{code: "type low struct{ n int; S string }\nlo := low{5, \"s\"}\nlo", value: "{n:5 S:s}"}, // the interpreter stores n as Xn
	})
	r, _ := run(t, s, "type tbl struct{ rows int }\nfunc (t *tbl) HTML() string { return fmt.Sprint(\"<table>\", t.rows, \"</table>\") }\ntb := &tbl{3}\ntb")
	if r.Err != nil || r.Data["text/html"] != "<table>3</table>" || r.Data["text/plain"] != "&{rows:3}" {
		t.Fatalf("HTML value: %v %+v", r.Data, r.Err)
	}
}

// Closures created in a loop see that iteration's variable (Go 1.22), also in goroutines.
func TestLoopVariablePerIteration(t *testing.T) {
	s := newLabSession(t)
	runCases(t, s, []cellCase{
		{code: "fns := []func() int{}\nfor i := 0; i < 3; i++ { fns = append(fns, func() int { return i }) }\nfmt.Println(fns[0](), fns[1](), fns[2]())", stdout: "0 1 2\n"},
		{code: "fs := []func() int{}\nfor _, v := range []int{7, 8} { fs = append(fs, func() int { return v }) }\nfmt.Println(fs[0](), fs[1]())", stdout: "7 8\n"},
		{code: "var wg sync.WaitGroup\nsq := make([]int, 4)\nfor i := 0; i < 4; i++ {\n\twg.Add(1)\n\tgo func() { defer wg.Done(); sq[i] = i * i }()\n}\nwg.Wait()\nsq", value: "[0 1 4 9]"},
		// A body that moves the loop variable keeps doing so.
		{code: "seen := []int{}\nfor i := 0; i < 6; i++ { if i == 2 { i++ }; f := func() {}; f(); seen = append(seen, i) }\nseen", value: "[0 1 3 4 5]"},
		{code: "func mk(n int) []func() int {\n\tout := []func() int{}\n\tfor i := range n { out = append(out, func() int { return 10 * i }) }\n\treturn out\n}\nmk(3)[2]()", value: "20"},
	})
}

// A variable that a top-level multi-value definition (a, b := f() or var a, b = f()) defines
// is read right by a function declared in a cell also when that function is called from
// another function, here the function literal a top-level loop runs in. yaegi gave such
// variables slots relative to the frame of the top level, which a nested call does not run
// in: notebook 04's loop over mergedAccuracy (a function reading base, from base, _, err :=
// study.BaseModel(...)) failed with "reflect: Call using zero Value argument", and the
// interpreted case below returned 0.
func TestMultiValueDefinitionsSeenFromNestedCalls(t *testing.T) {
	s := newLabSession(t)
	runCases(t, s, []cellCase{
		{code: "results, err := lab.Run(3)\nfunc steps(i int) int { return results[i].Steps }\n" +
			"func total(n int) int {\n\tsum := 0\n\tfor i := 0; i < n; i++ { sum += steps(i) }\n\treturn sum\n}"},
		{code: "var sums []int\nfor n := 1; n <= 3; n++ {\n\tsums = append(sums, total(n))\n}\nsums", value: "[10 30 60]"},
		{code: "func() { t := total(2); fmt.Println(t) }()", stdout: "30\n"},
		{code: "func two() (int, error) { return 5, nil }\nbase, err := two()\nfunc get() int { return base }\nfunc viaGet() int { return get() }\nviaGet()", value: "5"},
		// A variable the chunk already has is assigned, as Go's := does.
		{code: "n1, err := strconv.Atoi(\"1\")\nn2, err := strconv.Atoi(\"x\")\nfunc lastErr() error { return err }\n" +
			"func report() string { return fmt.Sprint(n1, n2, lastErr() != nil) }\nreport()", value: `"1 0 true"`},
		{code: "var (\n\tq1, q2 = strconv.Atoi(\"12\")\n\tq3 = 3\n)\nvar r1, _ = strconv.Atoi(\"13\")\n" +
			"var (\n\tt1, t2 = strconv.Atoi(\"20\")\n\tt4 int = 4\n)\n" +
			"func qs() int { return q1 + q3 + r1 + t1 + t4 }\nfunc viaQs() int { return qs() }\nviaQs()", value: "52"},
		{code: "_, perr := strconv.Atoi(\"zz\")\nfunc perrOf() error { return perr }\nfunc viaPerr() bool { return perrOf() != nil }\nviaPerr()", value: "true"},
		// The kernel still knows the variables' compiled types (rx := results[2] needs them).
		{code: "rx := results[2]\nrx.Steps", value: "30"},
	})
	// The temporaries that received the values do not keep them alive.
	for name, v := range s.globals() {
		if strings.HasPrefix(name, "__mv") && v.IsValid() && !v.IsZero() {
			t.Errorf("temporary %s still holds %v", name, v)
		}
	}
}

// Named results start at their zero values at every call. yaegi used the caller's variables
// as the result slots of a call whose results go straight into them, without zeroing them:
// in a loop, a sum accumulated across calls and an error came back from an earlier call.
func TestNamedResultsStartAtZero(t *testing.T) {
	s := newLabSession(t)
	runCases(t, s, []cellCase{
		{code: "func tot(n int) (sum int) {\n\tfor i := 1; i <= n; i++ { sum += i }\n\treturn\n}\n" +
			"func sums() (xs []int) {\n\tfor n := 1; n <= 3; n++ { v := tot(n); xs = append(xs, v, tot(n)) }\n\treturn\n}\nsums()", value: "[1 1 3 3 6 6]"},
		{code: "func load(fail bool) (v int, err error) {\n\tdefer func() { if r := recover(); r != nil { err = fmt.Errorf(\"recovered: %v\", r) } }()\n" +
			"\tif fail { panic(\"boom\") }\n\tv = 1\n\treturn\n}\n" +
			"func loads() (out string) {\n\tfor _, fail := range []bool{true, false} { v, err := load(fail); out += fmt.Sprint(v, err, \";\") }\n\treturn\n}\nloads()",
			value: `"0 recovered: boom;1 <nil>;"`},
		{code: "type pt struct{ X int }\nfunc some(k int) (p pt, m map[string]int, q *lab.Result, arr [2]int) {\n" +
			"\tif k == 0 { p.X = 3; m = map[string]int{\"a\": 5}; q = &lab.Result{Steps: 7}; arr[1] = 8 }\n\treturn\n}\n" +
			"for k := 0; k < 2; k++ { p, m, q, arr := some(k); fmt.Print(p, m, q == nil, arr, \"|\") }", stdout: "{3} map[a:5] false [0 8]|{0} map[] true [0 0]|"},
		{code: "func Count[T any](xs []T) (n int) {\n\tfor range xs { n++ }\n\treturn\n}\n" +
			"func counts() (cs []int) {\n\tfor k := 1; k <= 3; k++ { c := Count[int](make([]int, k)); cs = append(cs, c) }\n\treturn\n}\ncounts()", value: "[1 2 3]"},
	})
}

// Results of generic functions declared in cells: a typed var works (it was silently zero),
// an untyped one says what to do.
func TestGenericResultsAtTopLevel(t *testing.T) {
	s := newLabSession(t)
	runCases(t, s, []cellCase{
		{code: "func Map[T, U any](xs []T, f func(T) U) []U {\n\tout := make([]U, 0, len(xs))\n\tfor _, x := range xs { out = append(out, f(x)) }\n\treturn out\n}"},
		{code: "var sq []float64 = Map[float64, float64]([]float64{1, 2}, func(x float64) float64 { return x * x })\nsq", value: "[1 4]"},
		{code: "var (\n\ta, b int = 1, 2\n\tc = []string{\"p\"}\n\td string = c[0]\n)\nfmt.Println(a, b, c, d)", stdout: "1 2 [p] p\n"},
		{code: "var e = Map[float64, float64]([]float64{1}, func(x float64) float64 { return x })", err: "declare the variable first"},
	})
}

// A cell that fails to compile leaves the earlier variables usable and listed, and is not
// reported as using undefined names that are defined.
func TestStateAfterCompileErrors(t *testing.T) {
	s := newLabSession(t)
	run(t, s, "results, _ := lab.Run(2)\nm := map[string]int{\"a\": 1}")
	for _, code := range []string{"v, ok := m[\"a\"]\nw := v + \"s\"", "rx := results[1]\ny := rx.Nope", "for _, r := range results { r.Steps = \"x\" }"} {
		r, _ := run(t, s, code)
		if r.Err == nil || strings.Contains(r.Err.Value, "undefined: m") || strings.Contains(r.Err.Value, "undefined: results") {
			t.Errorf("%q: %+v", code, r.Err)
		}
	}
	_, h := run(t, s, "%who")
	if !strings.Contains(h.out.String(), "results") || !strings.Contains(h.out.String(), "m ") {
		t.Errorf("%%who after errors: %q", h.out.String())
	}
	if m, _, _ := s.Complete("resu", 4); len(m) != 1 || m[0] != "results" {
		t.Errorf("completion after errors: %v", m)
	}
	runCases(t, s, []cellCase{{code: "rx := results[1]\nrx.Steps + m[\"a\"]", value: "21"}})
}

// A var without a value is a declaration: a function earlier in the cell may use it.
func TestVarDeclarationAfterItsUser(t *testing.T) {
	s := newLabSession(t)
	runCases(t, s, []cellCase{
		{code: "func inc() { counter++ }\nvar counter int\ninc()\ninc()\ncounter", value: "2"},
		{code: "results, _ := lab.Run(1)\nvar res *lab.Result\nres = results[0]\nres.Steps", value: "10"},
	})
}

// A variable of a type declared in a cell keeps that type (and its fields and methods) when
// the kernel retries a cell with types taken from the current values.
func TestRetryKeepsInterpretedTypes(t *testing.T) {
	s := newLabSession(t)
	run(t, s, "type q struct{ a int }\nfunc (x q) twice() int { return 2 * x.a }\nch := make(chan q, 1)\nch <- q{1}")
	r, _ := run(t, s, "v, ok := <-ch\nfmt.Println(v.a, v.twice(), ok)")
	if r.Err == nil || !strings.Contains(r.Err.Value, "declare v with its type first") {
		t.Errorf("receive of an interpreted type: %+v", r.Err)
	}
	runCases(t, s, []cellCase{{code: "var v q\nvar ok bool\nv, ok = <-ch\nv.twice()", value: "2"}})
	if !compiledClean(reflect.TypeOf(map[string][]*labResult{}), 0) || compiledClean(reflect.TypeOf([]struct{ A int }{}), 0) {
		t.Error("compiledClean")
	}
}
