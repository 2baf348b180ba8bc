package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ordermerge/ordermerge/kernel"
)

// runKernel serves Jupyter: `ordermerge kernel CONNECTION_FILE` (the kernelspec's argv).
func runKernel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("kernel", stderr)
	fs.Usage = func() {
		io.WriteString(stderr, "usage: ordermerge kernel CONNECTION_FILE\n\nRuns the Jupyter kernel; Jupyter starts it with the connection file it wrote.\nInstall the kernelspec with 'ordermerge install-kernel'.\n")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want exactly one argument, the connection file (got %d)", fs.NArg())
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	k, err := kernel.Start(ctx, fs.Arg(0), kernel.Config{Log: stderr, CaptureFDs: true})
	if err != nil {
		return err
	}
	// SIGINT interrupts the running cell (terminals and jupyter console send it); SIGTERM
	// shuts the kernel down.
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	// A parent that dies without shutting the kernel down (SIGKILL) ends it too.
	go kernel.WatchParent(ctx, kernel.ParentPID(), 500*time.Millisecond, func() {
		fmt.Fprintln(stderr, "kernel: the parent process (JPY_PARENT_PID) has exited; shutting down")
		cancel()
	})
	go func() {
		for {
			select {
			case s := <-sig:
				if s == os.Interrupt {
					k.Interrupt()
				} else {
					cancel()
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return k.Run()
}
