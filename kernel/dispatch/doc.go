// Package dispatch routes Jupyter requests between the sockets (package wire) and the Go
// session (package session): it is the kernel's event loop.
//
// Heartbeat, control and stdin each have their own goroutine, so a cell that runs for hours
// never makes the kernel look dead and an interrupt_request reaches it while it runs. Shell
// requests are handled one at a time in arrival order, as the protocol expects. Every request
// is wrapped in busy/idle status messages and answered on the socket it came from, with the
// request's identities and header as the reply's parent. A message that fails its signature
// check or is malformed is logged and dropped before anything acts on it.
package dispatch
