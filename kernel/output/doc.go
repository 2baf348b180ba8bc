// Package output turns the bytes a cell prints into Jupyter stream messages.
//
// Two sources feed it. Interpreted code writes through the interpreter's Stdout/Stderr
// options; compiled library code (training progress, merge logs) writes straight to file
// descriptors 1 and 2, which Capture replaces with pipes for as long as the kernel runs. Both
// end in a Stream, which coalesces writes (a size threshold and a short timer) so a loop that
// prints one byte at a time does not send one message per byte, and so the iopub socket,
// which drops messages once a subscriber's queue is full, is never flooded.
//
// Nothing is dropped at normal volumes. A single cell that prints more than Limit bytes to one
// stream (DefaultLimit, 32 MiB) has the excess discarded and a note saying how much was
// discarded is sent at the end of the cell: a notebook that large would not open anyway.
package output
