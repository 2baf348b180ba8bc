package main

// One test per kind of bad input or interference of issue 15, each asserting the line a user
// sees.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/ordermerge/ordermerge/merge"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ordermerge/ordermerge/internal/crashtest"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
)

// startStopped starts the command as a child that stops itself (SIGSTOP) at a fault point,
// holding whatever it holds there, and returns once it is stopped. The child is killed at
// the end of the test.
func startStopped(t *testing.T, point string, args ...string) *exec.Cmd {
	t.Helper()
	trace := filepath.Join(t.TempDir(), "trace")
	cmd := cliCommand([]string{crashtest.TraceEnv + "=" + trace, crashtest.FaultEnv + "=" + point + ":stop"}, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
		if err != nil {
			t.Fatalf("child ended before %s: %s", point, out.String())
		}
		if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) > 0 && f[0] == "T" {
			return cmd
		}
	}
	t.Fatalf("child never reached %s", point)
	return nil
}

// Item 3: two runs into one output. The second is refused at once with the first one's PID,
// writes nothing (the log is the first run's only), and leaves the first one's work alone.
func TestSecondWriterIsRefusedWithTheHoldersPID(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	cfg := tinyInitConfig(t)
	out := filepath.Join(t.TempDir(), "run")
	args := func(seed string) []string {
		return []string{"train", "--data", "embedded:strings", "--limit", "8", "--init", cfg, "--epochs", "1", "--batch-size", "4", "--order-seed", seed, "--out", out, "--quiet"}
	}
	holder := startStopped(t, "checkpoint:created#1", args("1")...)
	pid := holder.Process.Pid
	logBefore, _ := os.ReadFile(filepath.Join(out, trainLogFile))
	tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".run.tmp-*"))
	_, stderr, code := runCLI(t, args("2")...)
	want := fmt.Sprintf("ordermerge train: %s is being written by process %d, since ", out, pid)
	if code != 1 || !strings.HasPrefix(stderr, want) || !strings.HasSuffix(stderr, "; wait for that run to finish (or stop it), or choose another output\n") {
		t.Fatalf("second run: exit %d: %q\nwant it to start %q", code, stderr, want)
	}
	if logAfter, _ := os.ReadFile(filepath.Join(out, trainLogFile)); !bytes.Equal(logBefore, logAfter) || len(logAfter) == 0 {
		t.Errorf("the refused run wrote to train.log:\n%s", logAfter)
	}
	if len(tmps) != 1 {
		t.Fatalf("the stopped run's temporary folder: %v", tmps)
	}
	if _, err := os.Stat(tmps[0]); err != nil {
		t.Errorf("the live run's temporary folder was removed: %v", err)
	}
	// The same for a merge into the folder.
	a, b := writeTinyCheckpoint(t, nil), writeTinyCheckpoint(t, nil)
	_, stderr, code = runCLI(t, "merge", "--method", "linear", "--models", a+","+b, "--out", out, "--force")
	if code != 1 || !strings.Contains(stderr, fmt.Sprintf("is being written by process %d", pid)) {
		t.Errorf("merge into a locked folder: exit %d: %s", code, stderr)
	}

	// Once the holder is dead, the next run cleans up after it and trains.
	holder.Process.Kill()
	holder.Wait()
	if _, stderr, code := runCLI(t, args("2")...); code != 0 {
		t.Fatalf("after the holder died: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(tmps[0]); err == nil {
		t.Error("the dead run's temporary folder is still there")
	}
	logText, _ := os.ReadFile(filepath.Join(out, trainLogFile))
	if !strings.Contains(string(logText), "removed "+filepath.Base(tmps[0])) {
		t.Errorf("train.log does not say what was cleaned up:\n%s", logText)
	}
}

// writeTinyCheckpoint saves a tiny Llama model (with a tokenizer-free folder) and returns it.
func writeTinyCheckpoint(t *testing.T, edit func(m *llama.Model)) string {
	t.Helper()
	m, err := llama.New(tensor.NewLlamaConfig(16, 32, 1, 2, 1, 262, 128), 1, llama.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	dir := filepath.Join(t.TempDir(), "tiny")
	if err := m.Save(dir, llama.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// llama3Config is Llama-3-8B's config.json (the sizes as Meta publishes them).
func llama3Config() *tensor.Config {
	c := tensor.NewLlamaConfig(4096, 14336, 32, 32, 8, 128256, 8192)
	c.RopeTheta, c.RMSNormEps = 500000, 1e-5
	return c
}

// Item 4: sizes from config.json are checked against the tensors and the memory before
// anything is allocated.
func TestHugeConfigIsRefusedBeforeAllocation(t *testing.T) {
	dir := writeTinyCheckpoint(t, nil)
	if err := tensor.WriteConfig(filepath.Join(dir, tensor.ConfigFile), llama3Config()); err != nil {
		t.Fatal(err)
	}
	want := dir + ": config.json does not describe these tensors: model.embed_tokens.weight has shape [262 16], the config calls for [128256 4096] (config: hidden_size 4096, intermediate_size 14336, num_hidden_layers 32, num_attention_heads 32, num_key_value_heads 8, vocab_size 128256)\n"
	_, stderr, code := runCLI(t, "eval", "--model", dir, "--data", "arith", "--limit", "2")
	if code != 1 || stderr != "ordermerge eval: "+want {
		t.Errorf("eval: exit %d: %q\nwant %q", code, stderr, "ordermerge eval: "+want)
	}
	out := filepath.Join(t.TempDir(), "run")
	_, stderr, code = runCLI(t, "train", "--data", "embedded:arith", "--base", dir, "--out", out)
	if code != 1 || stderr != "ordermerge train: "+want {
		t.Errorf("train --base: exit %d: %q", code, stderr)
	}
	// A config for a freshly initialised model: the memory it needs, in numbers.
	cfg := filepath.Join(t.TempDir(), "llama3.json")
	if err := tensor.WriteConfig(cfg, llama3Config()); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = runCLI(t, "train", "--data", "embedded:arith", "--init", cfg, "--out", out)
	if code != 1 || !strings.HasPrefix(stderr, "ordermerge train: not enough host memory to train this model: it needs at least ") ||
		!strings.Contains(stderr, "(parameters 29.9 GiB, gradients 29.9 GiB, AdamW moments 59.8 GiB, activations ") || !strings.HasSuffix(stderr, " is available\n") {
		t.Errorf("train --init with Llama-3-8B's config: exit %d: %q", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused run created its output folder")
	}
	// Absurd sizes are an error, not an overflow.
	absurd := llama3Config()
	absurd.NumHiddenLayers = 1 << 30
	tensor.WriteConfig(cfg, absurd)
	_, stderr, code = runCLI(t, "train", "--data", "embedded:arith", "--init", cfg, "--out", out)
	if code != 1 || !strings.Contains(stderr, "1073741824 layers of 218112000 parameters each is more than any machine holds") {
		t.Errorf("2^30 layers: exit %d: %q", code, stderr)
	}
}

// Item 6 (the parts outside merge): evaluating a model that is not finite is an error, and
// inspect --stats counts NaN and Inf instead of showing min and max 0.
func TestNonFiniteModels(t *testing.T) {
	dir := writeTinyCheckpoint(t, func(m *llama.Model) {
		p := m.Params()[1]
		v, err := p.Read()
		if err != nil {
			t.Fatal(err)
		}
		v[0], v[3] = float32(math.NaN()), float32(math.Inf(1))
		if err := p.Write(v); err != nil {
			t.Fatal(err)
		}
	})
	_, stderr, code := runCLI(t, "eval", "--model", dir, "--data", "arith", "--limit", "2")
	want := fmt.Sprintf("ordermerge eval: %s: tensor model.layers.0.input_layernorm.weight holds 1 NaN and 1 infinite values of 16; a model that is not finite cannot be evaluated ('ordermerge inspect --stats %s' lists every tensor)\n", dir, dir)
	if code != 1 || stderr != want {
		t.Errorf("eval: exit %d: %q\nwant %q", code, stderr, want)
	}

	path := filepath.Join(t.TempDir(), "nan.safetensors")
	nan := make([]float32, 6)
	for i := range nan {
		nan[i] = float32(math.NaN())
	}
	a, _ := tensor.NewF32("all_nan", []int{2, 3}, nan)
	b, _ := tensor.NewF32("fine", []int{3}, []float32{-1, 0, 2})
	if err := tensor.WriteFile(path, []*tensor.Tensor{a, b}, nil); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runCLI(t, "inspect", "--stats", path)
	if code != 0 {
		t.Fatalf("inspect: %s", stderr)
	}
	if !strings.Contains(out, "all_nan  F32    [2 3]  24 B  -    -    -       -      6/0") ||
		!strings.Contains(out, "fine     F32    [3]    12 B  -1   2    0.3333  1.247  0/0") ||
		!strings.Contains(out, "not finite: 1 of 2 tensors hold NaN or infinite values: all_nan (6 NaN, 0 Inf)") {
		t.Errorf("inspect --stats:\n%s", out)
	}
	out, _, _ = runCLI(t, "inspect", "--stats", "--json", path)
	var rep inspectReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if s := rep.Tensors[0].Stats; s.Min != nil || s.NaN != 6 || len(rep.NonFinite) != 1 || *rep.Tensors[1].Stats.Max != 2 {
		t.Errorf("JSON: %s", out)
	}
}

// Item 5: inspect --stats streams each tensor in chunks of statsChunk bytes: a 3 MiB tensor
// (three chunks) gives the same statistics as the values it holds. (Memory stays one chunk
// whatever the tensor's size; the test checks the chunked arithmetic, not a heap limit.)
func TestInspectStatsStreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.safetensors")
	vals := make([]float32, 3<<18) // 3 MiB of F32
	for i := range vals {
		vals[i] = float32(i % 7)
	}
	big, _ := tensor.NewF32("big", []int{len(vals)}, vals)
	if err := tensor.WriteFile(path, []*tensor.Tensor{big}, nil); err != nil {
		t.Fatal(err)
	}
	ck, _ := tensor.OpenCheckpoint(path)
	r, _ := ck.Reader("big")
	e, _ := ck.Entry("big")
	st, err := streamStats(t.Context(), r, e)
	ck.Close()
	if err != nil || *st.Min != 0 || *st.Max != 6 || st.Zeroes != int64((len(vals)+6)/7) || math.Abs(*st.Mean-3) > 1e-3 {
		t.Fatalf("stats %+v, %v", st, err)
	}
}

// Item 7: what would fail after training is checked before it; a statistic that cannot be
// computed is reported, and the run succeeds.
func TestTrainValidatesUpFrontAndReportsUndefinedStatistics(t *testing.T) {
	cfg := tinyInitConfig(t)
	out := filepath.Join(t.TempDir(), "run")
	_, stderr, code := runCLI(t, "train", "--data", "embedded:arith", "--limit", "2", "--init", cfg, "--out", out)
	if want := "ordermerge train: embedded:arith (train split, sha256 "; code != 1 || !strings.HasPrefix(stderr, want) || !strings.HasSuffix(stderr, "): 2 samples; training reports imbalance statistics, which need at least 3 (give more data or a larger --limit)\n") {
		t.Errorf("two samples: exit %d: %q", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("the refused run created its output")
	}
	// Identical samples end with identical losses: no rank correlation, and no failure.
	data := filepath.Join(t.TempDir(), "same.jsonl")
	os.WriteFile(data, []byte(strings.Repeat(`{"prompt": "Say a.", "completion": " a"}`+"\n", 4)), 0o644)
	stdout, stderr, code := runCLI(t, "train", "--data", data, "--init", cfg, "--epochs", "1", "--batch-size", "4", "--out", out, "--quiet")
	if code != 0 || !strings.Contains(stdout, "undefined: all final losses are equal") {
		t.Fatalf("equal losses: exit %d: %s%s", code, stdout, stderr)
	}
	b, _ := os.ReadFile(filepath.Join(out, imbalanceFile))
	if !strings.Contains(string(b), `"spearman": null`) {
		t.Errorf("imbalance.json:\n%s", b)
	}
	// A rerun finds the finished run and succeeds too.
	if _, stderr, code := runCLI(t, "train", "--data", data, "--init", cfg, "--epochs", "1", "--batch-size", "4", "--out", out, "--quiet"); code != 0 {
		t.Errorf("rerun: exit %d: %s", code, stderr)
	}
}

// Item 8: a valid Alpaca JSON array minified onto one line trains, every sample with its own
// ID.
func TestTrainMinifiedAlpacaArray(t *testing.T) {
	cfg := tinyInitConfig(t)
	var recs []string
	for i := 0; i < 6; i++ {
		recs = append(recs, fmt.Sprintf(`{"instruction":"Count to %d.","input":"","output":"%s"}`, i, strings.Repeat("1 ", i+1)))
	}
	data := filepath.Join(t.TempDir(), "alpaca_min.json")
	os.WriteFile(data, []byte("["+strings.Join(recs, ",")+"]"), 0o644)
	out := filepath.Join(t.TempDir(), "run")
	if _, stderr, code := runCLI(t, "train", "--data", data, "--init", cfg, "--epochs", "1", "--batch-size", "3", "--out", out, "--quiet"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	final, err := sft.ReadFinalLosses(filepath.Join(out, sft.FinalLossesFile))
	ids := map[string]bool{}
	for _, f := range final {
		ids[f.ID] = true
	}
	if err != nil || len(ids) != 6 || !ids["alpaca_min.json:1:2"] || !ids["alpaca_min.json:1:57"] {
		t.Fatalf("final losses %+v, %v", final, err)
	}
}

// Item 5: unbounded or blocking inputs end with a clear error, or on Ctrl-C and SIGTERM.
func TestEndlessAndBlockingInputs(t *testing.T) {
	cfg := tinyInitConfig(t)
	out := filepath.Join(t.TempDir(), "run")
	_, stderr, code := runCLI(t, "train", "--data", "/dev/zero", "--init", cfg, "--out", out)
	if want := "ordermerge train: load dataset: /dev/zero:1: the line is longer than 32 MiB (MaxRecordBytes); not a dataset file?\n"; code != 1 || stderr != want {
		t.Errorf("--data /dev/zero: exit %d: %q", code, stderr)
	}
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no named pipes:", err)
	}
	_, stderr, code = runCLI(t, "inspect", fifo)
	if want := "ordermerge inspect: " + fifo + ": is a named pipe (FIFO), not a regular file\n"; code != 1 || stderr != want {
		t.Errorf("a pipe as a model: exit %d: %q", code, stderr)
	}
	_, stderr, code = runCLI(t, "train", "--data", "embedded:arith", "--init", fifo, "--out", out)
	if want := "ordermerge train: --init: " + fifo + ": is a named pipe (FIFO), not a regular file\n"; code != 1 || stderr != want {
		t.Errorf("a pipe as --init: exit %d: %q", code, stderr)
	}
	// A pipe as the dataset waits for its writer, and SIGTERM (or Ctrl-C) ends the wait.
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := cliCommand(nil, "train", "--data", fifo, "--init", cfg, "--out", out)
		var buf bytes.Buffer
		cmd.Stderr = &buf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitForOpen(t, cmd.Process.Pid, fifo)
		cmd.Process.Signal(sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%v: the run waiting for a pipe's writer did not stop", sig)
		}
		if cmd.ProcessState.ExitCode() != 130 || buf.String() != "ordermerge train: interrupted\n" {
			t.Errorf("%v: exit %d: %q", sig, cmd.ProcessState.ExitCode(), buf.String())
		}
	}
	// With a writer, a pipe is read as the stream it is.
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		for i := 0; i < 4; i++ {
			fmt.Fprintf(w, `{"prompt": "Say %d.", "completion": " %d"}`+"\n", i, i)
		}
		w.Close()
	}()
	if _, stderr, code := runCLI(t, "train", "--data", fifo, "--init", cfg, "--epochs", "1", "--batch-size", "2", "--out", out, "--quiet"); code != 0 {
		t.Errorf("a pipe with a writer: exit %d: %s", code, stderr)
	}
}

// waitForOpen returns once process pid has path open (it waits there for a writer, its
// signal handlers long installed).
func waitForOpen(t *testing.T, pid int, path string) {
	t.Helper()
	fdDir := "/proc/" + strconv.Itoa(pid) + "/fd"
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			t.Fatalf("process %d: %v", pid, err)
		}
		for _, fd := range fds {
			if target, _ := os.Readlink(filepath.Join(fdDir, fd.Name())); target == path {
				return
			}
		}
	}
	t.Fatalf("process %d never opened %s", pid, path)
}

// Item 10: train -h says what is kept when a run is killed, and a run without
// --checkpoint-every keeps a checkpoint on a time cadence (tested in sft with a clock).
func TestTrainHelpSaysWhatIsKept(t *testing.T) {
	_, stderr, code := runCLI(t, "train", "-h")
	if code != 0 || !strings.Contains(stderr, "every --checkpoint-interval of training (5m by\ndefault)") || !strings.Contains(stderr, "leaves the last complete checkpoint and loses the steps since") {
		t.Errorf("train -h: %s", stderr)
	}
}

// merge -h lists every built-in method, from the registry (a list written by hand fell
// behind when thirteen methods were added).
func TestMergeHelpListsEveryMethod(t *testing.T) {
	_, stderr, code := runCLI(t, "merge", "-h")
	methods := stderr[strings.Index(stderr, "Methods: "):]
	methods = methods[:strings.Index(methods, "('go doc")]
	listed := map[string]bool{}
	for _, f := range strings.FieldsFunc(methods[len("Methods: "):], func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		listed[f] = true
	}
	for _, m := range merge.Methods() {
		if !listed[m.Name] {
			t.Errorf("merge -h does not list %s (code %d): %q", m.Name, code, methods)
		}
	}
	if len(listed) != len(merge.Methods()) {
		t.Errorf("merge -h lists %d methods, the registry has %d", len(listed), len(merge.Methods()))
	}
}
