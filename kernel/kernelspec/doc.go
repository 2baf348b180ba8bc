// Package kernelspec installs the Jupyter kernelspec of the ordermerge kernel: kernel.json
// (absolute binary path, argv [bin, "kernel", "{connection_file}"], language go, display name
// "Go (ordermerge)", interrupt_mode "message") and two logos drawn here at install time.
//
// Where it goes: --prefix P installs into P/share/jupyter/kernels/ordermerge; --user into the
// user's Jupyter data directory ($JUPYTER_DATA_DIR, else ~/.local/share/jupyter); with
// neither, root installs system-wide into /usr/local/share/jupyter/kernels/ordermerge (which
// `jupyter kernelspec list` finds) and anyone else into the user directory. That mirrors
// `jupyter kernelspec install`, which also needs root for the system location.
package kernelspec
