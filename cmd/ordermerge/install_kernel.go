package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ordermerge/ordermerge/kernel/kernelspec"
)

// runInstallKernel writes the Jupyter kernelspec for this binary.
func runInstallKernel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("install-kernel", stderr)
	user := fs.Bool("user", false, "install into the user's Jupyter data directory ($JUPYTER_DATA_DIR or ~/.local/share/jupyter)")
	prefix := fs.String("prefix", "", "install into `PREFIX`/share/jupyter/kernels (e.g. a virtualenv or conda prefix)")
	fs.Usage = func() {
		io.WriteString(stderr, "usage: ordermerge install-kernel [--user] [--prefix PREFIX]\n\nWithout flags: root installs into /usr/local/share/jupyter/kernels/ordermerge, others into the user directory.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if *user && *prefix != "" {
		return usagef("--user and --prefix exclude each other")
	}
	dir, err := kernelspec.Install(kernelspec.Options{User: *user, Prefix: *prefix})
	if err != nil {
		return fmt.Errorf("install kernelspec: %w", err)
	}
	fmt.Fprintf(stdout, "installed kernelspec %s in %s\n", kernelspec.Name, dir)
	return nil
}
