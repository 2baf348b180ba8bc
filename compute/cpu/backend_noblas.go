//go:build !cgo

package cpu

import "errors"

// HaveOpenBLAS reports whether this binary was built with the OpenBLAS backend (cgo on).
func HaveOpenBLAS() bool { return false }

// OpenBLASCore names the CPU kernel OpenBLAS picked (for benchmark records), or "" without cgo.
func OpenBLASCore() string { return "" }

func newOpenBLAS(int) (Backend, error) { return GoBackend{}, errNoOpenBLAS }

var errNoOpenBLAS = errors.New("openblas backend: built without cgo")
