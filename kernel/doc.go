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
// always added (the String method if there is one, else fmt's %v). For an interpreted type
// (declared in a cell) the methods are seen by display.Show; as a cell's final value it is
// shown as text.
//
// # Output and interrupts
//
// Output of interpreted code and of compiled code (written to file descriptors 1 and 2, which
// the kernel replaces with pipes) streams to the notebook while the cell runs, batched every
// 50 ms or 64 KiB. One cell's stream is cut after 32 MiB with a note saying how much was
// discarded. interrupt_request and SIGINT cancel the cell's context; interpreted loops stop at
// once, compiled calls at their next context check. A panic in a cell or in a goroutine it
// started becomes that cell's error and the kernel lives on.
package kernel
