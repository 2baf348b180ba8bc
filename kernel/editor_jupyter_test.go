package kernel

import (
	"os"
	"os/exec"
	"testing"
)

// TestEditorHelpWithJupyterClient runs testdata/jupyter_editor_check.py through the installed
// kernelspec: inspect inside a call's parentheses and on standard-library names, completion
// of methods declared in cells, struct field names, the magics (%time, %%time, %%writefile,
// %lsmagic, %env, ?x), the text/plain summary of a million-element slice and a 1000x1000
// image, must; and history search/range/tail with their parameters, compared with ipykernel
// (the reference) for the same inputs when it is installed.
func TestEditorHelpWithJupyterClient(t *testing.T) {
	jp := installForJupyter(t)
	cmd := exec.Command(jupyterPython, "testdata/jupyter_editor_check.py")
	cmd.Env = append(os.Environ(), "JUPYTER_PATH="+jp, "JUPYTER_RUNTIME_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	t.Logf("editor checks:\n%s", out)
	if err != nil {
		t.Fatalf("editor checks failed: %v", err)
	}
}
