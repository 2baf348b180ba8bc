package kernel

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// jupyterPython is Debian's Python, the one that sees jupyter_client (the python3 first on
// PATH on the development machines is a different build).
const jupyterPython = "/usr/bin/python3"

// installForJupyter builds the ordermerge binary and installs its kernelspec under a temporary
// prefix; it returns the JUPYTER_PATH to use.
func installForJupyter(t *testing.T) string {
	t.Helper()
	if err := exec.Command(jupyterPython, "-c", "import jupyter_client").Run(); err != nil {
		t.Skipf("skipping: %s cannot import jupyter_client (install Debian's python3-jupyter-client): %v", jupyterPython, err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "ordermerge")
	build := exec.Command("go", "build", "-o", bin, "github.com/ordermerge/ordermerge/cmd/ordermerge")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build ordermerge: %v\n%s", err, out)
	}
	prefix := filepath.Join(dir, "prefix")
	if out, err := exec.Command(bin, "install-kernel", "--prefix", prefix).CombinedOutput(); err != nil {
		t.Fatalf("install-kernel: %v\n%s", err, out)
	}
	jp := filepath.Join(prefix, "share", "jupyter")
	list := exec.Command(jupyterPython, "-m", "jupyter_client.kernelspecapp", "list")
	list.Env = append(os.Environ(), "JUPYTER_PATH="+jp)
	if out, err := list.CombinedOutput(); err != nil || !strings.Contains(string(out), "ordermerge") {
		t.Fatalf("jupyter kernelspec list does not show ordermerge: %v\n%s", err, out)
	}
	return jp
}

// TestWithJupyterClient runs testdata/jupyter_client_check.py: start through the installed
// kernelspec, execute, display (HTML, Markdown, a gonum plot), complete, inspect, is_complete,
// input via stdin, interrupt (of for {} and of a real sft.Train), restart, shutdown. It then
// executes testdata/plot.ipynb with `jupyter nbconvert --execute`, and types into `jupyter
// console` in a pseudo-terminal (testdata/jupyter_console_check.py).
func TestWithJupyterClient(t *testing.T) {
	jp := installForJupyter(t)
	env := append(os.Environ(), "JUPYTER_PATH="+jp, "JUPYTER_RUNTIME_DIR="+t.TempDir())
	cmd := exec.Command(jupyterPython, "testdata/jupyter_client_check.py")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	t.Logf("jupyter_client checks:\n%s", out)
	if err != nil {
		t.Fatalf("jupyter_client checks failed: %v", err)
	}

	nbOut := t.TempDir()
	nb := exec.Command(jupyterPython, "-m", "nbconvert", "--to", "notebook", "--execute",
		"--ExecutePreprocessor.kernel_name=ordermerge", "--ExecutePreprocessor.timeout=120",
		"--output-dir", nbOut, "testdata/plot.ipynb")
	nb.Env = env
	if out, err := nb.CombinedOutput(); err != nil {
		t.Fatalf("nbconvert --execute: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(nbOut, "plot.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cells []struct {
			Outputs []struct {
				OutputType string         `json:"output_type"`
				Data       map[string]any `json:"data"`
			} `json:"outputs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var png, fifty bool
	for _, c := range doc.Cells {
		for _, o := range c.Outputs {
			if o.OutputType == "error" || fmt.Sprint(o.Data["text/plain"]) == "[<nil>]" {
				t.Errorf("unexpected output in executed notebook: %v", o)
			}
			if s, ok := o.Data["image/png"].(string); ok && strings.HasPrefix(s, "iVBOR") {
				png = true
			}
			if fmt.Sprint(o.Data["text/plain"]) == "[50]" || o.Data["text/plain"] == "50" {
				fifty = true
			}
		}
	}
	if !png || !fifty {
		t.Errorf("executed notebook lacks the plot (%v) or the value 50 (%v)", png, fifty)
	}

	// jupyter console, typed into as a person does (multi-line input through is_complete).
	t.Run("console", func(t *testing.T) {
		if err := exec.Command(jupyterPython, "-c", "import pexpect, jupyter_console").Run(); err != nil {
			t.Skipf("skipping: %s lacks pexpect or jupyter_console (Debian: python3-pexpect, jupyter-console): %v", jupyterPython, err)
		}
		cmd := exec.Command(jupyterPython, "testdata/jupyter_console_check.py")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		t.Logf("jupyter console checks:\n%s", out)
		if err != nil {
			t.Fatalf("jupyter console checks failed: %v", err)
		}
	})
}
