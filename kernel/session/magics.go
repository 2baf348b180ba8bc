package session

import (
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"
)

// HelpText is what %help prints.
const HelpText = `ordermerge Go kernel (yaegi interpreter; compiled packages preloaded)

Cells are Go: declarations (import, func, type, const, var) and statements in any order;
a var with a value runs where it stands, as a statement does. Variables, functions and types stay
defined for later cells. A cell whose last line is an expression with one value shows that
value. Preloaded packages can be used without an import: the standard library, plot,
plotter, vg, draw, gorgonia, and the project's tensor, sft, llama (model/llama), data,
tokenizer, eval, compute, cpu (compute/cpu), gorgoniamodel, merge, viz and study; other third-party packages cannot
be imported.

Errors in one line: must(f(...)) fails the cell with f's error when it is not nil (nothing after
it runs) and gives f's other results:
  task := must(data.Embedded("strings"))     base, info := must(study.BaseModel(ctx, cfg, tok))
  must(os.WriteFile(path, b, 0o644))         must(err)
It is a statement of its own or the whole right side of an assignment or of a return
(return must(f(x)) in a function returning f's other results), in cells and in the functions
they declare.

Package display (github.com/ordermerge/ordermerge/kernel/display), usable as display.X:
  display.Show(v)            show v richly (MIMEBundle/HTML/Markdown/SVG/PNG methods,
                             image.Image, String method, or plain text)
  display.HTML(s), display.Markdown(s), display.SVG(s), display.PNG(b), display.JSON(v),
  display.Image(img), display.Text(s)
  id := display.NewID(); display.ShowID(id, v); display.Update(id, v)   update in place
  p := display.NewProgress("train", n); p.Add(1); p.Done()              progress bar
  display.TrainVariants(base, examples, tc, seeds, dir), display.Train(model, examples, tc)
                             sft's training with the cell's context and a live progress bar
  cfg.Progress = display.StudyProgress()      a study's (or study.BaseModel's) progress, live
  tc.Progress = display.TrainingProgress(label)   a progress bar for any sft.Config
  ctx := display.Context()   the cell's context: pass it to long calls (training, merging)
                             so that interrupting the cell stops them at their next step
  display.Input(prompt), display.Password(prompt)   read a line from the user

Interrupt (the stop button, or SIGINT) cancels display.Context() and stops interpreted loops;
the kernel and its variables survive. A panic, also in a goroutine a cell started, becomes
the cell's error.

Magics (on the first lines of a cell):
  %help              this text
  %lsmagic           list the magics
  %time              print the CPU and wall time of the rest of the cell; %time stmt runs
                     stmt (showing its value) and times it with the rest of the cell
  %%time             the same, as a cell magic
  %%writefile [-a] path   write (-a: append) the rest of the cell to path instead of running it
  %env               list the environment; %env NAME shows one; %env NAME=VALUE sets one
  %who               list the variables, functions and types defined by cells
  %reset             forget every variable, function, type and import
  ?name, name?       show name's documentation (what Shift-Tab shows)

Go as the interpreter (yaegi) runs it. The kernel rewrites cells around the interpreter's
bugs, so these work as in Go: indexing results of compiled calls at the top level
(rx := results[1]), v, ok := m[k] / x.(T) / <-ch, multi-value := inside loops, type
switches, defer, for i := range n, min/max/clear, one loop variable per iteration,
functions reading variables of a top-level a, b := f() from any depth of calls, named
results starting at zero at every call. What remains, and what to write instead:
  - generic functions declared in a cell: write the type arguments (Map[int, string](...));
    to keep a result in a variable declare it first: var x []T; x = Map[...](...)
  - generic functions of compiled packages are not available, and the standard library is
    Go 1.22's (no range over functions, no maps.Keys): use the non-generic APIs
  - a type cannot be redefined (use a new name, or %reset); a redefined func is not seen
    by funcs declared before it until they are declared again
  - compiled package variables cannot be assigned (use the package's setters)
  - compiled code sees the methods of a type declared in a cell only through an interface
    it takes (fmt.Stringer, sort.Interface, compute.Model, ...): errors.As with a target of such
    a type fails (use a type switch, or errors.Is with a sentinel)
  - a method value (f := v.M) of a value receiver sees later changes of v (Go copies v)
  - a named result of a struct type declared in a cell loses whole-value assignments
    (p = pt{3}; p, n = pt{3}, 4): return the values (return pt{3}, 4) or set its fields
  - a compiled call that ignores its context keeps running after an interrupt: pass
    display.Context() to every long call (training, merging, evaluation)
  - when a cell's error says "the interpreter failed compiling", moving the code into a
    function (func f() { ... }; f()) usually avoids it`

type magic struct {
	name, arg string
	line      int    // 0-based line of the cell it was on
	src       string // that line as written
}

// parseMagics removes the magic lines at the start of a cell, replacing them with empty lines
// so the rest keeps its line numbers. A cell magic (%%name) ends them: the lines after it are
// its body.
func parseMagics(code string) (string, []magic) {
	lines := strings.Split(code, "\n")
	var ms []magic
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		if !strings.HasPrefix(t, "%") {
			break
		}
		name, arg, _ := strings.Cut(strings.TrimPrefix(t, "%"), " ")
		ms = append(ms, magic{name: name, arg: strings.TrimSpace(arg), line: i, src: l})
		lines[i] = ""
		if strings.HasPrefix(name, "%") {
			break
		}
	}
	return strings.Join(lines, "\n"), ms
}

// lineMagics and cellMagics are what %lsmagic lists.
var (
	lineMagics = []string{"%env", "%help", "%lsmagic", "%reset", "%time", "%who"}
	cellMagics = []string{"%%time", "%%writefile"}
)

// runMagics runs a cell's magics before its code. It returns the code left to run, a function
// to call when the cell ends (the report of %time), and done when nothing is left to run
// (%%writefile, ?x, a cell of magics only is still run: it is empty).
func (s *Session) runMagics(code string, ms []magic, host Host) (rest string, timed func(), done bool, err *Error) {
	if name, ok := helpRequest(code); ok && len(ms) == 0 {
		return "", nil, true, s.helpMagic(name, host)
	}
	for _, m := range ms {
		switch m.name {
		case "time", "%time":
			if m.arg != "" {
				if m.name == "%time" {
					return "", nil, true, usage("%%time takes no arguments: the cell below it is timed")
				}
				// %time stmt: the statement runs (and shows its value) where the magic stood.
				code = replaceLine(code, m.line, strings.Replace(m.src, "%time", "     ", 1))
			}
			timed = startTimer(host)
		case "%writefile":
			return "", nil, true, writeFileMagic(m.arg, code, m.line, host)
		default:
			if err := s.runMagic(m, host); err != nil {
				return "", nil, true, err
			}
		}
	}
	return code, timed, false, nil
}

func usage(msg string) *Error {
	return &Error{Name: "UsageError", Value: msg, Traceback: []string{"UsageError: " + msg}}
}

func replaceLine(code string, i int, line string) string {
	lines := strings.Split(code, "\n")
	lines[i] = line
	return strings.Join(lines, "\n")
}

// startTimer returns the report %time prints when the cell ends, in IPython's words: the
// process's CPU times (user, system) and the wall time.
func startTimer(host Host) func() {
	start := time.Now()
	u0, s0 := cpuTimes()
	return func() {
		u1, s1 := cpuTimes()
		u, sy := u1-u0, s1-s0
		fmt.Fprintf(host.Stdout(), "CPU times: user %s, sys: %s, total: %s\nWall time: %s\n",
			shortDuration(u), shortDuration(sy), shortDuration(u+sy), shortDuration(time.Since(start)))
	}
}

// shortDuration writes d with three significant digits and IPython's units (ns, µs, ms, s).
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%d ns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.3g µs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.3g ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.3g s", d.Seconds())
}

// writeFileMagic is %%writefile [-a] path: the cell's body (the lines after the magic) goes
// to path, which is created, overwritten or, with -a, appended to, as IPython does.
func writeFileMagic(arg, code string, line int, host Host) *Error {
	appendTo := false
	if rest, ok := strings.CutPrefix(arg, "-a "); ok || arg == "-a" {
		appendTo, arg = true, strings.TrimSpace(rest)
	}
	if arg == "" {
		return usage("%%writefile needs a file name: %%writefile [-a] path")
	}
	name := strings.Trim(arg, `"'`)
	lines := strings.Split(code, "\n")
	body := strings.Join(lines[line+1:], "\n")
	if !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	_, statErr := os.Stat(name)
	verb := "Writing"
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	switch {
	case appendTo:
		verb, flags = "Appending to", os.O_WRONLY|os.O_CREATE|os.O_APPEND
	case statErr == nil:
		verb = "Overwriting"
	}
	f, err := os.OpenFile(name, flags, 0o644)
	if err == nil {
		_, err = f.WriteString(body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return &Error{Name: "OSError", Value: err.Error(), Traceback: []string{"%%writefile: " + err.Error()}}
	}
	fmt.Fprintf(host.Stdout(), "%s %s\n", verb, name)
	return nil
}

// helpRequest recognises IPython's help forms: a cell that is just ?name, name? or name??
// (name a dotted chain such as strings.ToUpper or cfg.Train).
func helpRequest(code string) (string, bool) {
	t := strings.TrimSpace(code)
	var name string
	switch {
	case strings.HasPrefix(t, "?"):
		name = strings.TrimLeft(t, "?")
	case strings.HasSuffix(t, "?"):
		name = strings.TrimRight(t, "?")
	default:
		return "", false
	}
	if name == "" {
		return "", false
	}
	for _, part := range strings.Split(name, ".") {
		if part == "" {
			return "", false
		}
		for _, r := range part {
			if !isIdentRune(r) {
				return "", false
			}
		}
	}
	return name, true
}

// helpMagic shows what inspecting name shows (Shift-Tab), as the cell's output.
func (s *Session) helpMagic(name string, host Host) *Error {
	data, found := s.Inspect(name, len([]rune(name)))
	if !found {
		return &Error{Name: "NameError", Value: "nothing known about " + name,
			Traceback: []string{"Object `" + name + "` not found."}}
	}
	if err := host.PublishDisplay(data, map[string]any{}, "", false); err != nil {
		return &Error{Name: "Error", Value: err.Error(), Traceback: []string{err.Error()}}
	}
	return nil
}

func (s *Session) runMagic(m magic, host Host) *Error {
	out := host.Stdout()
	switch m.name {
	case "help":
		io.WriteString(out, HelpText+"\n")
	case "env":
		return s.envMagic(m.arg, host)
	case "who":
		names := s.globalsSorted()
		g := s.globals()
		for _, n := range names {
			v := g[n]
			t := "?"
			if v.IsValid() {
				t = v.Type().String()
			}
			fmt.Fprintf(out, "%-16s %s\n", n, t)
		}
		for _, kind := range []struct {
			title string
			m     map[string]string
		}{{"func", s.funcs}, {"type", s.types}} {
			keys := make([]string, 0, len(kind.m))
			for k := range kind.m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(out, "%-16s %s\n", k, kind.title)
			}
		}
	case "lsmagic":
		fmt.Fprintf(out, "Available line magics:\n%s\n\nAvailable cell magics:\n%s\n\n%%help describes them; ?name or name? shows a name's documentation.\n",
			strings.Join(lineMagics, "  "), strings.Join(cellMagics, "  "))
	case "reset":
		if err := s.reset(); err != nil {
			return &Error{Name: "Error", Value: err.Error(), Traceback: []string{err.Error()}}
		}
		fmt.Fprintln(out, "all cell state forgotten")
	default:
		msg := fmt.Sprintf("unknown magic %%%s (%%help lists the magics)", m.name)
		return &Error{Name: "UsageError", Value: msg, Traceback: []string{msg}}
	}
	return nil
}

// envMagic reads and sets environment variables both for interpreted code (yaegi keeps its
// own environment) and for the process, so compiled packages see them too.
func (s *Session) envMagic(arg string, host Host) *Error {
	out := host.Stdout()
	getenv := func(k string) string {
		v, err := s.it.Eval(fmt.Sprintf("os.Getenv(%q)", k))
		if err != nil || !v.IsValid() || v.Kind() != reflect.String {
			return os.Getenv(k)
		}
		return v.String()
	}
	switch {
	case arg == "":
		env := os.Environ()
		sort.Strings(env)
		for _, kv := range env {
			fmt.Fprintln(out, kv)
		}
	case strings.Contains(arg, "=") || strings.Contains(arg, " "):
		sep := "="
		if eq, sp := strings.Index(arg, "="), strings.Index(arg, " "); eq < 0 || sp >= 0 && sp < eq {
			sep = " " // %env NAME VALUE, as IPython also accepts
		}
		k, v, _ := strings.Cut(arg, sep)
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if err := os.Setenv(k, v); err != nil {
			return &Error{Name: "UsageError", Value: err.Error(), Traceback: []string{err.Error()}}
		}
		if _, ok := s.imported["os"]; !ok {
			if _, err := s.it.Eval(`import os "os"`); err == nil {
				s.imported["os"] = "os"
			}
		}
		s.it.Eval(fmt.Sprintf("os.Setenv(%q, %q)", k, v))
		fmt.Fprintf(out, "env: %s=%s\n", k, v)
	default:
		if _, ok := s.imported["os"]; !ok {
			if _, err := s.it.Eval(`import os "os"`); err == nil {
				s.imported["os"] = "os"
			}
		}
		fmt.Fprintln(out, getenv(arg))
	}
	return nil
}
