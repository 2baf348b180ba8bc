// Package display is what notebook cells use to show things: rich values, images, HTML,
// Markdown, JSON, outputs updated in place, progress bars, and the cell's context.
//
// Cells call it as a package, display.Show(fig), but there is no package-level state behind
// that: each kernel session builds its own *Display bound to its own publisher and registers
// the methods of that value with its interpreter under this package's import path (see
// Symbols). A cell therefore always talks to the session it runs in, and two sessions in one
// process (as in tests) never see each other's output.
//
// # Rich values
//
// A value renders itself if it has any of these methods; packages that produce such values
// (viz figures, merge reports) implement them without importing the kernel:
//
//	MIMEBundle() map[string]any   // full control: MIME type -> data ("image/png" may be []byte)
//	HTML() string                 // text/html
//	Markdown() string             // text/markdown
//	SVG() ([]byte, error)         // image/svg+xml
//	PNG() ([]byte, error)         // image/png
//
// An image.Image is encoded as PNG; anything else is shown as text, through its String method
// when it has one. Every bundle also carries text/plain. Bundle does this conversion; it is
// used both for display.Show(v) and for the value of a cell's last expression.
package display
