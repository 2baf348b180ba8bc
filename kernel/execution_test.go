package kernel

import (
	"os"
	"os/exec"
	"testing"

	"github.com/ordermerge/ordermerge/kernel/session"
)

// TestExecutionWithJupyterClient checks the execution path through the real jupyter_client
// (testdata/execution_check.py), one subtest per behaviour: an interrupt during a blocking
// compiled call stops the cell (nothing after the interrupt point runs, no output lands in the
// next cell); the kernel exits within 5 s of its parent's SIGKILL; a panic on a compiled
// worker goroutine fails the cell and the kernel keeps its variables; runtime errors read
// like Go's at the cell's line and column; a failed cell defines no new names and leaves redefined functions and types as they were; kernel_info
// reports the Go version the interpreter implements; a cell's final call whose error result
// nothing checks fails the cell when the error is not nil.
func TestExecutionWithJupyterClient(t *testing.T) {
	jp := installForJupyter(t)
	env := append(os.Environ(), "JUPYTER_PATH="+jp, "JUPYTER_RUNTIME_DIR="+t.TempDir())
	for _, item := range []string{"interrupt_blocking_call", "parent_death", "worker_panic", "runtime_errors", "failed_cell_names", "unchecked_error", "kernel_info"} {
		t.Run(item, func(t *testing.T) {
			cmd := exec.Command(jupyterPython, "testdata/execution_check.py", item, session.LanguageVersion())
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			t.Logf("%s:\n%s", item, out)
			if err != nil {
				t.Fatalf("%s: %v", item, err)
			}
		})
	}
}
