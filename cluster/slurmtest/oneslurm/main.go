// Command oneslurm starts and stops the one-node Slurm of package slurmtest outside a Go test:
// .ci/run starts one for the notebooks (06-cluster submits to it) and stops it afterwards.
//
//	eval "$(go run ./cluster/slurmtest/oneslurm start)"   # sets SLURM_CONF and ONESLURM_DIR
//	go run ./cluster/slurmtest/oneslurm stop "$ONESLURM_DIR"
//
// It needs what the tests need: Debian's slurm-wlm and munge, and root.
package main

import (
	"fmt"
	"os"

	"github.com/ordermerge/ordermerge/cluster/slurmtest"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "oneslurm:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 1 && args[0] == "start":
		c, err := slurmtest.New(slurmtest.Options{})
		if err != nil {
			return err
		}
		fmt.Printf("export SLURM_CONF=%s ONESLURM_DIR=%s\n", c.Conf, c.Dir)
		return nil
	case len(args) == 2 && args[0] == "stop":
		c, err := slurmtest.Open(args[1])
		if err != nil {
			return err
		}
		c.Stop()
		return nil
	}
	return fmt.Errorf("usage: oneslurm start | oneslurm stop DIR")
}
