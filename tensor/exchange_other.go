//go:build !linux

package tensor

import "errors"

var errNoRenameat2 = errors.New("renameat2 is Linux-only")

// Without renameat2, replacements take the fallback path (see CheckpointWriter.Commit).
func exchange(a, b string) error { return errNoRenameat2 }

func renameNoReplace(a, b string) error { return errNoRenameat2 }

func unsupported(err error) bool { return errors.Is(err, errNoRenameat2) }
