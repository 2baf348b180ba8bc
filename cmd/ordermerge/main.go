// Command ordermerge is the one binary of the project: every step of an order-and-merge study
// (inspect, train, merge, eval, repro) runs from here as a batch job, and `ordermerge kernel`
// serves the same packages to Jupyter.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"syscall"
)

// command is one subcommand. run parses its own flags from args.
type command struct {
	name    string
	summary string
	// ownSignals is set by commands that handle SIGINT themselves (the kernel turns it into
	// an interrupt of the running cell instead of an exit).
	ownSignals bool
	run        func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists the subcommands. Each lives in its own file next to this one.
func commands() []command {
	cmds := []command{
		{name: "base", summary: "print the folder of the study's pre-trained base model (pre-training it when not cached)", run: runBase},
		{name: "devices", summary: "list the CPU and GPUs this machine can train on (and why a GPU cannot be used)", run: runDevices},
		{name: "install-kernel", summary: "install the Jupyter kernelspec for this binary", run: runInstallKernel},
		{name: "kernel", summary: "run the Jupyter kernel (Jupyter starts it via the kernelspec)", ownSignals: true, run: runKernel},
		{name: "merge", summary: "merge checkpoints (parameter selection, linear, TIES, DARE, SLERP, ...) under a memory budget", run: runMerge},
		{name: "eval", summary: "score a model on a dataset's test split (generation + metric)", run: runEval},
		{name: "repro", summary: "run the paper's study on the embedded datasets and write a report", run: runRepro},
		{name: "inspect", summary: "list the tensors of a safetensors file or checkpoint directory", run: runInspect},
		{name: "train", summary: "fine-tune a model (or K order variants) with a seeded data order and per-sample loss records", run: runTrain},
		{name: "submit", summary: "train K order variants as Slurm or Kubernetes jobs, then merge, evaluate and report in a dependent job", run: runSubmit},
		{name: "status", summary: "show the jobs of a submission: pending, running (step, loss), done or failed; requeue or cancel them", run: runStatus},
		{name: "finish", summary: "merge, evaluate and report the variants of a submission (the dependent job runs it)", run: runFinish},
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

// usageError marks mistakes in the command line: they exit with status 2 and no stack trace.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == args[0] {
			c := c
			cmd = &c
			break
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "ordermerge: unknown command %q (run 'ordermerge help')\n", args[0])
		return 2
	}
	ctx := context.Background()
	if !cmd.ownSignals {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	stopProfile, err := startCPUProfile(os.Getenv("ORDERMERGE_CPUPROFILE"))
	if err == nil {
		err = cmd.run(ctx, args[1:], stdout, stderr)
		if perr := stopProfile(); err == nil {
			err = perr
		}
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "ordermerge %s: %v\n", cmd.name, err)
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "ordermerge %s: interrupted\n", cmd.name)
		return 130
	default:
		fmt.Fprintf(stderr, "ordermerge %s: %v\n", cmd.name, err)
		return 1
	}
}

// startCPUProfile writes a CPU profile of the command to path (the ORDERMERGE_CPUPROFILE
// variable: how the benchmarks in bench/ are profiled); an empty path profiles nothing.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("ORDERMERGE_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("ORDERMERGE_CPUPROFILE: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("ORDERMERGE_CPUPROFILE: %w", err)
		}
		return nil
	}, nil
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: ordermerge <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-15s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'ordermerge <command> -h' for the flags of one command.")
}
