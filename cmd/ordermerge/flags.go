package main

import (
	"errors"
	"flag"
	"io"
)

// errHelp is returned when the user asked for -h: usage was printed, exit 0.
var errHelp = errors.New("help requested")

// newFlagSet returns a flag set that reports errors as usage errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ordermerge "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args and turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usageError{err.Error()}
	}
	return nil
}
