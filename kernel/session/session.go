package session

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"io"
	"os"
	"path"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"

	"github.com/ordermerge/ordermerge/kernel/display"
)

// Host receives what a running cell produces. The kernel's dispatcher implements it over the
// iopub and stdin sockets; tests implement it in memory.
type Host interface {
	display.Publisher
	// Stdout and Stderr receive the cell's text output.
	Stdout() io.Writer
	Stderr() io.Writer
	// Input asks the front end for a line of input; it fails when the request did not allow
	// stdin.
	Input(prompt string, password bool) (string, error)
}

// Doc is the documentation of one symbol of a preloaded package.
type Doc struct {
	Decl, Text string
}

// Options configure a session.
type Options struct {
	// Symbols are the compiled packages cells can import besides the standard library, as
	// yaegi export tables ("import/path/name" -> symbols).
	Symbols []map[string]map[string]reflect.Value
	// Docs looks up the doc of "import/path.Name" or "import/path.Type.Method".
	Docs func(key string) (Doc, bool)
	// PreferredImports resolves package names that several preloaded packages share (rand,
	// template, draw, tensor): name -> import path used when a cell uses the name without
	// importing it.
	PreferredImports map[string]string
	// LatePanic is told about a goroutine that panicked after its cell had finished; cell is
	// the number Execute returned for that cell.
	LatePanic func(cell int, err *Error)
	// Env is the interpreter's environment (default: the process environment).
	Env []string
	// LazyLoad defers loading the standard library and Symbols into the interpreter
	// (the longest part of New) to the first Execute or Load, so that a kernel answers
	// kernel_info sooner. Complete and Inspect need Load first.
	LazyLoad bool
}

// Session is one interpreter and the state the kernel keeps beside it.
type Session struct {
	opts    Options
	display *display.Display

	mu       sync.Mutex // guards the fields below, which a running cell's goroutines touch
	host     Host
	cellCtx  context.Context
	running  int // number of the running cell, 0 when none
	cancel   context.CancelCauseFunc
	seq      int
	defers   []func() // the running cell's top-level defers (see deferCall)
	captured any      // the value Capture received
	// unchecked is the error the cell's rewritten final call returned (see uncheckedEdit);
	// the interpreter writes it while the cell runs, the session reads it after.
	unchecked error

	// Interpreter state, touched only by Execute/Complete/Inspect (one at a time).
	it       *interp.Interpreter
	packages map[string]string // package name usable in cells -> import path
	members  map[string]map[string]reflect.Value
	imported map[string]string            // name bound by an import -> path
	funcs    map[string]string            // user funcs -> declaration source
	methods  map[string]map[string]string // receiver type -> method -> declaration (complete.go)
	typeOf   map[string]reflect.Type      // cell type -> the interpreter's reflect type of it
	types    map[string]string            // user types -> declaration source
	history  []string
	// panicLines are yaegi's "L:C: panic: F(...)" lines of the running evaluation (guarded by
	// mu); stack is the last failed chunk's, in cell coordinates (see stack.go).
	panicLines []string
	stack      []stackFrame
	// indexFail is the index that failed last in the running evaluation (guarded by mu), and
	// lastIndex the one of the last failed chunk (see indexprobe.go).
	indexFail  *indexFailure
	indexNoted bool // a panic left an interpreted frame since the evaluation began (see noteIndexFailure)
	lastIndex  *indexFailure
	indexNodes map[uintptr]indexNode // the compiled index nodes' code (guarded by mu)
	loaded     *loadOnce             // the symbol tables are in it (see Load)
	lastChunk  rewritten             // the chunk whose failure stack holds
	funcChunks map[string]funcChunk  // where each function declared by a cell was compiled
	// varTypes are the compiled types of variables that cells defined at the top level, as
	// far as the typer could tell them (see typer).
	varTypes map[string]reflect.Type
	// hookSyms are the symbols of the hook package; identities and typeNames name the
	// identity functions and types added to it for the rewrites (see fixes.go).
	hookSyms   map[string]reflect.Value
	identities map[reflect.Type]string
	typeNames  map[reflect.Type]string
	resyncs    int             // padding variables declared by resync
	stdinBuf   []byte          // the rest of the last input line, for byte-wise readers such as fmt.Scan
	noop       *interp.Program // the empty program prepareStop runs

	eval *evaluation // the last evaluation (see execute); guarded by mu
	at   int         // the top-level statement of the running chunk that runs (names.go); guarded by mu
	// dead are names that failed cells would have introduced: undefined for cells, though
	// still in yaegi's scope (see names.go).
	dead map[string]bool
	// deadTypes are the declarations of the dead names that are types (see deadTypeChanged).
	deadTypes map[string]string
}

// New creates a session with a fresh interpreter.
func New(opts Options) (*Session, error) {
	s := &Session{opts: opts}
	s.display = display.New(display.Host{
		Publisher: publisherFunc(s.publish),
		Context:   s.context,
		Input:     s.input,
	})
	if err := s.reset(); err != nil {
		return nil, err
	}
	return s, nil
}

type publisherFunc func(data, metadata map[string]any, id string, update bool) error

func (f publisherFunc) PublishDisplay(data, metadata map[string]any, id string, update bool) error {
	return f(data, metadata, id, update)
}

// reset (re)creates the interpreter and forgets every cell.
func (s *Session) reset() error {
	env := s.opts.Env
	if env == nil {
		// yaegi gives cells an empty environment when Env is nil; cells must see the
		// kernel's (ORDERMERGE_QUICK, HOME, ...).
		env = os.Environ()
	}
	it := interp.New(interp.Options{
		Stdin:  readerFunc(s.readStdin),
		Stdout: writerFunc(s.writeStdout),
		Stderr: &panicLineFilter{s: s},
		Env:    env,
	})
	s.members = map[string]map[string]reflect.Value{}
	for k, v := range stdlib.Symbols {
		s.members[k] = v
	}
	for _, tab := range s.opts.Symbols {
		for k, v := range tab {
			s.members[k] = v
		}
	}
	s.loaded = &loadOnce{}
	syms, mapTypes := s.display.Exports()
	if err := it.Use(syms); err != nil {
		return fmt.Errorf("load display symbols: %w", err)
	}
	if err := it.Use(interp.Exports{".": {"MapTypes": reflect.ValueOf(mapTypes)}}); err != nil {
		return fmt.Errorf("load display type maps: %w", err)
	}
	for k, v := range syms {
		s.members[k] = v
	}
	s.hookSyms = s.hookSymbols()
	// Capture receives a cell's final value of an interpreted type wrapped with its methods
	// (String, HTML, ...), as display.Show does.
	capture := reflect.ValueOf(s.capture)
	s.hookSyms["Capture"] = capture
	for _, ifaces := range mapTypes {
		if err := it.Use(interp.Exports{".": {"MapTypes": reflect.ValueOf(map[reflect.Value][]reflect.Type{capture: ifaces})}}); err != nil {
			return fmt.Errorf("load capture type map: %w", err)
		}
		break
	}
	s.identities = map[reflect.Type]string{}
	s.typeNames = map[reflect.Type]string{}
	s.varTypes = map[string]reflect.Type{}
	hook := interp.Exports{hookPath + "/kernelhook": s.hookSyms}
	if err := it.Use(hook); err != nil {
		return fmt.Errorf("load kernel hook: %w", err)
	}
	if _, err := it.Eval(fmt.Sprintf("import %s %q", hookName, hookPath)); err != nil {
		return fmt.Errorf("import kernel hook: %w", err)
	}
	s.it = it
	s.noop = nil
	// yaegi compiles channel operations as cancellable only once an ExecuteWithContext has
	// run (it sets the flag that the code generator reads): run one before any cell compiles.
	if err := s.prepareStop(); err != nil {
		return err
	}
	s.packages = packageNames(s.members, s.opts.PreferredImports)
	s.imported = map[string]string{}
	s.funcs = map[string]string{}
	s.methods = map[string]map[string]string{}
	s.typeOf = map[string]reflect.Type{}
	s.types = map[string]string{}
	s.dead = map[string]bool{}
	s.deadTypes = map[string]string{}
	s.funcChunks = map[string]funcChunk{}
	s.mu.Lock()
	s.indexNodes = nil
	s.mu.Unlock()
	if !s.opts.LazyLoad {
		return s.Load()
	}
	return nil
}

// loadOnce guards loading the symbol tables into one interpreter.
type loadOnce struct {
	once sync.Once
	err  error
}

// Load puts the standard library and the preloaded packages into the interpreter, once (see
// Options.LazyLoad). It is safe to call from several goroutines; Execute calls it.
func (s *Session) Load() error {
	l, it := s.loaded, s.it
	l.once.Do(func() {
		if err := it.Use(stdlib.Symbols); err != nil {
			l.err = fmt.Errorf("load standard library symbols: %w", err)
			return
		}
		for _, tab := range s.opts.Symbols {
			if err := it.Use(tab); err != nil {
				l.err = fmt.Errorf("load preloaded symbols: %w", err)
				return
			}
		}
	})
	return l.err
}

const hookPath = "ordermerge.kernel/kernelhook"

// packageNames decides which import path each package name means when a cell uses it
// without an import: the preferred one when given, otherwise the shortest path.
func packageNames(members map[string]map[string]reflect.Value, preferred map[string]string) map[string]string {
	out := map[string]string{}
	for key := range members {
		p, name := path.Dir(key), path.Base(key)
		if strings.HasPrefix(p, "ordermerge.kernel") || strings.Contains(p, "internal") {
			continue
		}
		if old, ok := out[name]; ok && (len(old) < len(p) || len(old) == len(p) && old < p) {
			continue
		}
		out[name] = p
	}
	for name, p := range preferred {
		if _, ok := members[p+"/"+name]; ok {
			out[name] = p
		}
	}
	return out
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (s *Session) currentHost() Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.host
}

func (s *Session) writeStdout(p []byte) (int, error) {
	if h := s.currentHost(); h != nil {
		return h.Stdout().Write(p)
	}
	return len(p), nil
}

func (s *Session) writeStderr(p []byte) (int, error) {
	if h := s.currentHost(); h != nil {
		return h.Stderr().Write(p)
	}
	return len(p), nil
}

// readStdin serves interpreted fmt.Scan and os.Stdin reads with input requests, one line per
// request.
func (s *Session) readStdin(p []byte) (int, error) {
	if len(s.stdinBuf) == 0 {
		h := s.currentHost()
		if h == nil {
			return 0, io.EOF
		}
		line, err := h.Input("", false)
		if err != nil {
			return 0, err
		}
		s.stdinBuf = []byte(line + "\n")
	}
	n := copy(p, s.stdinBuf)
	s.stdinBuf = s.stdinBuf[n:]
	return n, nil
}

func (s *Session) publish(data, metadata map[string]any, id string, update bool) error {
	h := s.currentHost()
	if h == nil {
		return errors.New("display: no cell is running")
	}
	return h.PublishDisplay(data, metadata, id, update)
}

func (s *Session) context() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cellCtx == nil {
		return context.Background()
	}
	return s.cellCtx
}

func (s *Session) input(prompt string, password bool) (string, error) {
	h := s.currentHost()
	if h == nil {
		return "", display.ErrNoStdin
	}
	return h.Input(prompt, password)
}

// goroutinePanic is the cause a cell's context is cancelled with when one of its goroutines
// panicked.
type goroutinePanic struct{ value any }

func (g goroutinePanic) Error() string { return fmt.Sprintf("panic in goroutine: %v", g.value) }

// goPanic is called (through the kernel hook) by a rewritten goroutine that recovered a panic.
func (s *Session) goPanic(r any, cell int) {
	s.mu.Lock()
	running, cancel := s.running, s.cancel
	s.mu.Unlock()
	if running == cell && cancel != nil {
		cancel(goroutinePanic{r})
		return
	}
	if s.opts.LatePanic != nil {
		s.opts.LatePanic(cell, &Error{Name: "GoroutinePanic", Value: fmt.Sprint(r),
			Traceback: []string{fmt.Sprintf("panic in a goroutine started by cell %d (after it finished): %v", cell, r)}})
	}
}

// Error is a failed cell, ready for an error message: ename, evalue, traceback.
type Error struct {
	Name      string
	Value     string
	Traceback []string
}

func (e *Error) Error() string { return e.Name + ": " + e.Value }

// Result is the outcome of one cell.
type Result struct {
	// Cell numbers executions in this session (1, 2, ...), for LatePanic.
	Cell int
	// Data is the MIME bundle of the cell's value, nil when the cell shows none.
	Data map[string]any
	// Err is set when the cell failed; Interrupted when it was cancelled.
	Err         *Error
	Interrupted bool
	// Exit is set for a cell that is just exit or quit (a terminal front end such as jupyter
	// console then ends the session; the kernel tells it with the ask_exit payload).
	Exit bool
}

// Execute runs one cell. Output goes to host while it runs; cancelling ctx interrupts it.
// Execute must not be called concurrently with itself, Complete or Inspect.
func (s *Session) Execute(ctx context.Context, code string, host Host) Result {
	// An interrupted cell's compiled call may still be running: nothing else can run until
	// it returns, and its output must not reach this cell (host is set only after the wait).
	settleErr := s.settle(ctx, host.Stderr())
	cellCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.mu.Lock()
	s.seq++
	cell := s.seq
	s.host, s.cellCtx, s.running, s.cancel = host, cellCtx, cell, cancel
	s.defers = nil
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.host, s.cellCtx, s.running, s.cancel = nil, nil, 0, nil
		s.mu.Unlock()
	}()
	s.history = append(s.history, code)
	res := Result{Cell: cell}
	if err := s.Load(); err != nil {
		res.Err = &Error{Name: "KernelError", Value: err.Error(), Traceback: []string{err.Error()}}
		return res
	}
	if settleErr != nil {
		res.Interrupted = true
		res.Err = interruptedError()
		return res
	}
	code, magics := parseMagics(code)
	if w := strings.TrimSuffix(strings.TrimSpace(code), "()"); (w == "exit" || w == "quit") && len(magics) == 0 && !s.isGlobal(w) {
		res.Exit = true
		return res
	}
	code, timed, done, merr := s.runMagics(code, magics, host)
	if merr != nil || done {
		res.Err = merr
		return res
	}
	if timed != nil {
		defer timed()
	}
	data, err := s.runGuarded(cellCtx, code, cell, host)
	if derr := s.runDefers(); derr != nil && err == nil {
		res.Err = &Error{Name: "panic", Value: derr.Error(), Traceback: []string{derr.Error()}}
		return res
	}
	if err != nil {
		if cause := context.Cause(cellCtx); cause != nil && errors.As(cause, new(goroutinePanic)) {
			res.Err = &Error{Name: "GoroutinePanic", Value: fmt.Sprint(cause.(goroutinePanic).value),
				Traceback: []string{cause.Error()}}
			return res
		}
		if ctx.Err() != nil {
			res.Interrupted = true
			res.Err = interruptedError()
			return res
		}
		res.Err = s.toError(err, code)
		return res
	}
	res.Data = data
	return res
}

func interruptedError() *Error {
	return &Error{Name: "Interrupted", Value: "the cell was interrupted",
		Traceback: []string{"Interrupted: the cell was interrupted (nothing after the interrupt point ran; variables it defined before it are kept)"}}
}

// runGuarded is run, with a panic of the kernel's own code (a bug) turned into the cell's
// error rather than the end of the kernel process.
func (s *Session) runGuarded(ctx context.Context, code string, cell int, host Host) (data map[string]any, err error) {
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, &Error{Name: "KernelError", Value: fmt.Sprintf("internal error of the kernel: %v", r),
				Traceback: []string{fmt.Sprintf("internal error of the kernel (please report it with the cell): %v", r)}}
		}
	}()
	names := s.snapshotNames()
	defer func() {
		if err != nil {
			s.whenSettled(func() { s.rollBack(names) })
		}
	}()
	return s.run(ctx, code, cell, host, names)
}

// run evaluates the chunks of one cell and returns the bundle of its value, if any.
func (s *Session) run(ctx context.Context, code string, cell int, host Host, names *cellNames) (map[string]any, error) {
	if err := s.Load(); err != nil { // again after a %reset
		return nil, err
	}
	chunks, err := splitCell(code)
	if err != nil {
		return nil, err
	}
	var value reflect.Value
	var showValue bool
	for i, c := range chunks {
		last := i == len(chunks)-1
		v, show, err := s.runChunk(ctx, code, c, cell, host, last, names)
		if err != nil {
			return nil, err
		}
		if last {
			value, showValue = v, show
		}
	}
	if !showValue {
		return nil, nil
	}
	var x any
	if value.IsValid() && value.CanInterface() {
		x = value.Interface()
	} else {
		x = value
	}
	return display.Bundle(x)
}

// runChunk prepares and evaluates one chunk.
func (s *Session) runChunk(ctx context.Context, code string, c chunk, cell int, host Host, last bool, names *cellNames) (reflect.Value, bool, error) {
	text := code[c.start:c.end]
	src := placed(text, c.line, c.col)
	fset := token.NewFileSet()
	f, base, err := parseChunk(fset, src, c.decl)
	if err != nil {
		return reflect.Value{}, false, firstSyntaxError(err)
	}
	if se := s.deadName(fset, f); se != nil {
		return reflect.Value{}, false, se
	}
	if se := assignMismatch(fset, f); se != nil {
		return reflect.Value{}, false, se
	}
	if se := s.deadTypeChanged(fset, f, src, base); se != nil {
		return reflect.Value{}, false, se
	}
	defs := chunkDefinitions(f, c.decl)
	var edits []edit
	off := func(p token.Pos) int { return fset.Position(p).Offset - base }
	var newImports [][2]string
	var runMain bool
	if c.decl {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				if d.Tok == token.IMPORT {
					kept := 0
					var drop []edit
					for _, sp := range d.Specs {
						is := sp.(*ast.ImportSpec)
						name, p := importKey(is)
						bound := name
						if bound == "" {
							bound = s.nameOf(p)
						}
						if old, ok := s.imported[bound]; ok && old == p {
							drop = append(drop, blank(src, off(is.Pos()), off(is.End())))
							continue
						}
						if !s.knownPackage(p) {
							pos := fset.Position(is.Path.Pos())
							return reflect.Value{}, false, &SyntaxError{pos.Line - 1, pos.Column,
								fmt.Sprintf("cannot import %q: only the standard library and the preloaded packages can be imported (%%help lists them)", p)}
						}
						kept++
						newImports = append(newImports, [2]string{bound, p})
					}
					if kept == 0 {
						edits = append(edits, blank(src, off(d.Pos()), off(d.End())))
					} else {
						edits = append(edits, drop...)
					}
				}
				if d.Tok == token.TYPE {
					for _, sp := range d.Specs {
						ts := sp.(*ast.TypeSpec)
						if _, ok := s.types[ts.Name.Name]; ok {
							fmt.Fprintf(host.Stderr(), "warning: type %s was already declared; the interpreter keeps the first declaration (use a new name, or %%reset)\n", ts.Name.Name)
							names.redeclared = append(names.redeclared, ts.Name.Name)
						}
						s.types[ts.Name.Name] = src[off(ts.Pos()):off(ts.End())]
					}
				}
			case *ast.FuncDecl:
				if d.Recv != nil {
					s.noteMethod(d, src[off(d.Pos()):off(d.Body.Lbrace)])
					continue
				}
				name := d.Name.Name
				if name == "main" {
					// yaegi would run a main on every later Eval: rename it and run it once.
					edits = append(edits, edit{off(d.Name.Pos()), off(d.Name.End()), mainName})
					runMain = true
					continue
				}
				decl := src[off(d.Pos()):off(d.Body.Lbrace)]
				if _, ok := s.funcs[name]; ok {
					fmt.Fprintf(host.Stderr(), "warning: func %s redefined; functions declared in earlier cells that call it keep calling the old one until they are declared again\n", name)
					names.redeclared = append(names.redeclared, name)
				}
				s.funcs[name] = strings.TrimSpace(decl)
			}
		}
	}
	// Preloaded packages used without an import are imported first.
	own := map[string]bool{}
	for _, im := range newImports {
		own[im[0]] = true
	}
	for name := range selectorBases(f) {
		if _, ok := s.imported[name]; ok || own[name] || s.isGlobal(name) {
			continue
		}
		if p, ok := s.packages[name]; ok {
			if _, err := s.it.Eval(fmt.Sprintf("import %s %q", name, p)); err != nil {
				return reflect.Value{}, false, fmt.Errorf("import %s: %w", p, err)
			}
			s.imported[name] = p
		}
	}
	prog, fixed, err := s.compileChunk(src, edits, c.decl, cell, last, fset, f)
	if err != nil {
		s.chunkFailed(names, defs, false, 0)
		var se *SyntaxError
		if errors.As(err, &se) {
			if oe := overflowError(se.Msg, fset, f); oe != nil {
				return reflect.Value{}, false, oe
			}
		}
		return reflect.Value{}, false, err
	}
	// The compile has (re)declared the chunk's globals, whether or not the run succeeds.
	for name, t := range fixed.types {
		if t == nil {
			delete(s.varTypes, name)
		} else {
			s.varTypes[name] = t
		}
	}
	s.atStatement(-1)
	s.takePanicLines()
	s.takeIndexFailure()
	s.unchecked = nil
	v, err := s.execute(ctx, prog)
	if err != nil {
		s.whenSettled(func() { s.chunkFailed(names, defs, true, s.runningStatement()) })
		var top ast.Stmt
		if at, body := s.runningStatement(), stmtBody(f); !c.decl && at >= 0 && at < len(body) {
			top = body[at]
		}
		s.stack, s.lastChunk = s.mapStack(s.takePanicLines(), fixed, cell, fset, top), fixed
		s.lastIndex = s.takeIndexFailure()
		var p interp.Panic
		if errors.As(err, &p) {
			msg := fmt.Sprint(p.Value)
			if m := posPrefixRE.FindStringSubmatch(msg); m != nil {
				msg = m[3]
			}
			if oe := overflowError(msg, fset, f); oe != nil {
				return reflect.Value{}, false, oe
			}
		}
		return reflect.Value{}, false, err
	}
	if c.decl {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				s.funcChunks[fd.Name.Name] = funcChunk{fx: fixed, cell: cell}
			}
		}
	}
	for _, d := range defs {
		s.revive(d.names)
		if c.decl {
			names.decls = append(names.decls, d.names...)
		}
	}
	for _, im := range newImports {
		s.imported[im[0]] = im[1]
	}
	if runMain {
		if _, err := s.evalCtx(ctx, ";\n"+mainName+"()"); err != nil {
			return reflect.Value{}, false, err
		}
	}
	if !last || c.decl {
		return reflect.Value{}, false, nil
	}
	if body := stmtBody(f); fixed.unchecked && len(body) > 0 {
		p := fset.Position(body[len(body)-1].Pos())
		if e := s.uncheckedError(code, p.Line-1, p.Column); e != nil {
			return reflect.Value{}, false, e
		}
		return reflect.Value{}, false, nil
	}
	x, ok := lastExpr(stmtBody(f))
	if !ok {
		return reflect.Value{}, false, nil
	}
	if call, ok := x.(*ast.CallExpr); ok {
		return v, s.callHasOneResult(ctx, call, src, base, fset, v), nil
	}
	if w, ok := s.withMethods(ctx, x, src, base, fset, v); ok {
		return w, true, nil
	}
	return v, true, nil
}

const mainName = "ordermergeCellMain"

// withMethods returns the value of a final expression of an interpreted type with the
// methods that decide how it is shown (String, HTML, Markdown, ...): the value yaegi returns
// has a reflect type without them. The expression is evaluated again, as the argument of the
// hook's Capture, so only side-effect-free ones (identifiers and selectors) are.
func (s *Session) withMethods(ctx context.Context, x ast.Expr, src string, base int, fset *token.FileSet, v reflect.Value) (reflect.Value, bool) {
	if len(s.types) == 0 || !pureFunc(x) || !v.IsValid() || v.Type().NumMethod() > 0 {
		return reflect.Value{}, false
	}
	off := func(p token.Pos) int { return fset.Position(p).Offset - base }
	s.mu.Lock()
	s.captured = nil
	s.mu.Unlock()
	if _, err := s.evalCtx(ctx, fmt.Sprintf(";%s.Capture(%s)", hookName, src[off(x.Pos()):off(x.End())])); err != nil {
		return reflect.Value{}, false
	}
	s.mu.Lock()
	c := s.captured
	s.mu.Unlock()
	if c == nil {
		return reflect.Value{}, false
	}
	return reflect.ValueOf(c), true
}

func (s *Session) capture(v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.captured = v
}

// callHasOneResult decides whether a final call expression shows its value: only calls of
// functions with exactly one result do (so fmt.Println shows nothing). Conversions and
// builtins show what they return.
func (s *Session) callHasOneResult(ctx context.Context, call *ast.CallExpr, src string, base int, fset *token.FileSet, v reflect.Value) bool {
	if lit, ok := call.Fun.(*ast.FuncLit); ok {
		return lit.Type.Results != nil && lit.Type.Results.NumFields() == 1
	}
	if id, ok := call.Fun.(*ast.Ident); ok && isBuiltin(id.Name) {
		return false
	}
	if !pureFunc(call.Fun) {
		return v.IsValid()
	}
	off := func(p token.Pos) int { return fset.Position(p).Offset - base }
	fun := src[off(call.Fun.Pos()):off(call.Fun.End())]
	fv, err := s.evalCtx(ctx, ";"+fun)
	if err != nil || !fv.IsValid() || fv.Kind() != reflect.Func {
		// A conversion (the interpreter returns a stale value for a type name) or a
		// builtin such as len: show what the call returned.
		return v.IsValid()
	}
	if fv.Type().NumOut() != 1 {
		return false
	}
	// A lone error result (display.HTML, os.WriteFile) is shown only when it is not nil.
	if fv.Type().Out(0) == reflect.TypeOf((*error)(nil)).Elem() {
		return !nilValue(v)
	}
	return true
}

// nilValue reports whether v holds nil in any of the forms the interpreter returns it
// (invalid Value, nil interface or pointer, or a wrapper that prints as <nil>).
func nilValue(v reflect.Value) bool {
	if !v.IsValid() {
		return true
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		if v.IsNil() {
			return true
		}
	}
	return display.Text(v) == "<nil>"
}

func (s *Session) nameOf(p string) string {
	for key := range s.members {
		if path.Dir(key) == p {
			return path.Base(key)
		}
	}
	return path.Base(p)
}

func (s *Session) knownPackage(p string) bool {
	for key := range s.members {
		if path.Dir(key) == p {
			return true
		}
	}
	return false
}

func (s *Session) isGlobal(name string) bool {
	if _, ok := s.funcs[name]; ok {
		return true
	}
	if _, ok := s.types[name]; ok {
		return true
	}
	_, ok := s.globals()[name]
	return ok
}

// globals is Interpreter.Globals, which can panic on a frame left inconsistent by a failed
// evaluation; then it reports no variables rather than crash the kernel.
func (s *Session) globals() (g map[string]reflect.Value) {
	defer func() {
		if recover() != nil {
			g = map[string]reflect.Value{}
		}
	}()
	g = s.it.Globals()
	for n := range s.dead {
		delete(g, n)
	}
	return g
}

// undefinedName finds the first identifier of a failed chunk that nothing defines. yaegi
// reports some of these as "constant definition loop" or at the wrong place.
func (s *Session) undefinedName(fset *token.FileSet, f *ast.File) *SyntaxError {
	if !s.globalsOK() {
		return nil // without the globals, a defined variable would be called undefined
	}
	universe := map[string]bool{"_": true}
	for _, n := range goBuiltins {
		universe[n] = true
	}
	for _, id := range f.Unresolved {
		n := id.Name
		if universe[n] || s.isGlobal(n) {
			continue
		}
		if _, ok := s.imported[n]; ok {
			continue
		}
		if _, ok := s.packages[n]; ok {
			continue
		}
		pos := fset.Position(id.Pos())
		return &SyntaxError{pos.Line - 1, pos.Column, advice("undefined: " + n)}
	}
	return nil
}

// History returns the cells executed so far (oldest first).
func (s *Session) History() []string { return append([]string(nil), s.history...) }

// Reset forgets all state, as the %reset magic does.
func (s *Session) Reset() error { return s.reset() }

// globalsSorted lists variables and constants, functions and types defined by cells.
func (s *Session) globalsSorted() []string {
	var names []string
	for n := range s.globals() {
		if !strings.HasPrefix(n, "_") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
