// Package kernel is the ordermerge Jupyter kernel: Go cells evaluated by the yaegi
// interpreter, with the standard library, gonum/plot, gorgonia and the project's own compiled
// packages preloaded, so a notebook can train, merge, evaluate and plot without a Go
// toolchain.
//
// It is split by concern, as GoNB is: package wire (protocol, sockets, signing; no
// interpreter), package session (the interpreter and cell semantics; no ZeroMQ), package
// dispatch (the event loop between them), package display (what cells call to show things),
// package output (stream batching and capture of file descriptors 1 and 2), package symbols
// (generated yaegi tables and doc index) and package kernelspec (installation). This package
// wires them together for `ordermerge kernel` and `ordermerge install-kernel`.
//
// # What cells can use
//
// Every preloaded package can be used without an import statement (fmt.Println works in the
// first cell). Where two packages share a name the kernel picks: rand = math/rand,
// template = text/template, draw = gonum.org/v1/plot/vg/draw, tensor = the project's tensor
// package; import the other explicitly under an alias if you need it.
//
// The display package (github.com/ordermerge/ordermerge/kernel/display, used as display.X)
// is bound to the session a cell runs in. display.Context() returns the running cell's
// context: pass it to long compiled calls (sft.Train(display.Context(), ...), merges,
// evaluations) so that an interrupt stops them at their next step.
//
// # Cells that read like prose
//
// must(f(...)) is one-line error handling: it gives f's results without its final error, and
// when that error is not nil the cell fails with it (named by its type, at the must's line)
// and nothing after it runs:
//
//	task := must(data.Embedded("strings"))
//	base, info := must(study.BaseModel(display.Context(), cfg, tok))
//	must(os.WriteFile(path, b, 0o644))
//
// It is a rewrite of the cell (session/must.go), not a function, so it keeps every result's
// type without generics; it stands as a statement or as the whole right side of an assignment
// or a return, in cells and in the functions they declare. A cell whose last statement is a
// call of several results, the last an error, that nothing checks (data.Embedded("strings")
// alone) fails with that error too when it is not nil, at the call; a call of one result,
// an error included, shows it as the cell's value. display.TrainVariants and display.Train are
// sft's with the cell's context and one live progress bar that counts the steps itself;
// cfg.Progress = display.StudyProgress() shows a study's (or study.BaseModel's pre-training)
// progress on one line updated in place.
//
// # Editor help and magics
//
// Shift-Tab (inspect_request) documents the callable of the call around the cursor, as
// IPython's token_at_cursor does (strings.ToUpper in strings.ToUpper(|)), else the name at
// the cursor: the signature with parameter names and the doc comment, for our packages and
// the standard library (kernel/symbols' doc index), for functions, types and methods declared
// in cells, and a variable's type and (summarised) value. Completion lists the fields and
// methods of values of cell-declared types too. Magics as in IPython: %time (stmt), %%time,
// %%writefile [-a], %lsmagic, %env, %who, %reset, %help, and ?name / name?. history_request
// answers tail, range (start, stop) and search (a GLOB pattern, unique, n) as IPython's
// HistoryManager does.
//
// # Rich values: the display contract
//
// A cell's final expression, and any value passed to display.Show, is rendered from the
// methods it has, checked structurally so that packages producing such values (viz figures,
// merge reports) never import the kernel:
//
//	MIMEBundle() map[string]any   // full control: MIME type -> data ([]byte for image/png is base64-encoded)
//	HTML() string                 // text/html
//	Markdown() string             // text/markdown
//	SVG() ([]byte, error)         // image/svg+xml
//	PNG() ([]byte, error)         // image/png
//
// The first that matches, in that order, wins; an image.Image becomes a PNG; text/plain is
// always added (the String method if there is one, else fmt's %+v, with field names; a value of
// more than 1000 elements is summarised as numpy does, its long slices and maps shown by their
// first and last three elements, and no text/plain is longer than 64 KiB: fmt.Println(v) prints
// all of it). For an interpreted type
// (declared in a cell) the methods are seen by display.Show, and by a cell's final value when
// that is a variable or a field (the kernel evaluates it again as the argument of a function
// that receives the methods); the result of a call of such a type is shown as plain text.
//
// # Go as the interpreter runs it
//
// yaegi v0.16.1 compiles a cell's top-level statements as the body of a main function whose
// variables are globals, typed by an analysis that runs before anything else and that has
// bugs notebook code meets at once. package session rewrites each cell's syntax before the
// interpreter sees it (session/fixes.go; one test per pattern in session/fixes_test.go), so
// that these behave as Go:
//
//   - indexing values of compiled types in a top-level := or var (rx := results[1] after
//     results, err := sft.TrainVariants(...), r := res.Records[0]): yaegi failed with
//     "constant definition loop" or crashed. The kernel types the expression by reflection
//     (types of compiled calls, fields, package variables, and of variables earlier cells
//     defined from them) and wraps it in an identity function of that type;
//   - v, ok := m[k], v, ok := x.(T), v, ok := <-ch at the top level (yaegi crashed): v and
//     ok are declared with their types, then assigned;
//   - for, if, switch, select and blocks at the top level run inside a function literal: a
//     multi-value := in a loop body was "undefined", a type switch binding crashed, and init
//     statements leaked their variables into the globals;
//   - a top-level defer runs once, when the cell ends (yaegi ran it again at every later
//     evaluation);
//   - var declarations with values run as statements, in order: yaegi could not initialise
//     a variable from a variable of an earlier cell ("variable definition loop"); var x T = v
//     is run as var x T; x = v (a call of a generic function was silently zero);
//   - a top-level multi-value definition (base, _, err := study.BaseModel(...), var a, b =
//     f()): yaegi gave its variables slots relative to the top level's frame, so a function
//     declared in a cell read a wrong slot when called from another function or from a
//     top-level loop ("reflect: Call using zero Value argument", or a silently wrong
//     value). Temporaries receive the values and each variable is defined from its own;
//   - named results start at their zero values at every call (yaegi reused the caller's
//     variables as result slots without zeroing them: sums accumulated across calls in a
//     loop, an error came back from an earlier call);
//   - newer Go: range over an integer, min, max and clear, one loop variable per iteration
//     for closures (goroutines in a loop see their own i).
//
// Compile errors point at the cell's own line and column through these rewrites. What is
// left, with what to write instead (also in %help): generic functions declared in cells need
// explicit type arguments, and their results a declared variable (var x T; x = f[T](...));
// compiled packages' generic functions are not available and the standard library is Go
// 1.22's; a type cannot be redefined; compiled package variables cannot be assigned;
// compiled code sees the methods of types declared in cells only through the interfaces it
// takes (errors.As with such a target fails); a method value of a value receiver is not a copy;
// a named result of a struct type declared in a cell loses whole-value assignments (return
// the values instead); a compiled call that ignores its context runs on after an interrupt
// (nothing of the cell after it runs, and the next cell waits for it to return, saying
// so); when the interpreter
// itself fails to compile a cell, the error says so and moving the code into a function
// usually avoids it. A cell that is just exit or quit ends a jupyter console session.
//
// # Output and interrupts
//
// Output of interpreted code and of compiled code (written to file descriptors 1 and 2, which
// the kernel replaces with pipes) streams to the notebook while the cell runs, batched every
// 50 ms or 64 KiB. One cell's stream is cut after 32 MiB with a note saying how much was
// discarded. interrupt_request and SIGINT cancel the cell's context; interpreted loops stop at
// once, compiled calls at their next context check. A panic in a cell or in a goroutine it
// started becomes that cell's error and the kernel lives on.
//
// # Failures, as Go reports them
//
// An interrupted cell answers at once and nothing after its interrupt point runs, even when
// the interrupt came during a compiled call that does not watch its context (time.Sleep): the
// next cell starts when that call has returned, and no output of the old cell reaches it. A
// panic reads as the Go runtime's ("runtime error: index out of range [5] with length 3",
// "invalid memory address or nil pointer dereference", "interface conversion: ...") at the
// cell line and column where it happened, followed by the cell functions it went through (an
// index's value and length are the ones the failed index had, read from the interpreter's
// frame: its operands are not evaluated again); a
// panic on a worker goroutine of a compiled package (parallel loops, merges) is the cell's
// error too. A cell that fails to compile defines none of its names, one that is interrupted
// or panics keeps the definitions that ran, and existing variables keep their values; a
// function or type that a failed cell declared again keeps its old definition. The
// kernel exits when the process that started it (JPY_PARENT_PID) ends, as ipykernel does,
// and kernel_info gives the Go version the interpreter implements (1.22 for yaegi v0.16.1).
package kernel
