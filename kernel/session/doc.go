// Package session evaluates notebook cells with the yaegi interpreter and keeps their state
// (variables, functions, types, imports) from one cell to the next.
//
// It hides the gaps between "a Go cell" and what yaegi's Eval accepts: a cell is split into
// runs of declarations and runs of statements (yaegi decides from the first token which one a
// source is), repeated imports are dropped, preloaded packages are imported on first use, a
// func main is run once instead of on every later Eval, `go` statements are rewritten so a
// panicking goroutine becomes an error of its cell instead of killing the process, errors
// carry the cell's own line and column, and whether a cell shows a value is decided from its
// syntax tree (a final expression with one value), never from Eval's return value.
//
// The session knows nothing of ZeroMQ: output, displays and input go through the Host the
// caller passes to Execute. Interrupting a cell is cancelling the context given to Execute;
// cells reach that context through display.Context() and pass it to long compiled calls.
//
// Magics (a % at the start of a cell's first lines): %help, %lsmagic, %time, %%time,
// %%writefile, %env, %who, %reset, and ?name / name?; must(...) is one-line error handling
// (must.go). See HelpText.
package session
