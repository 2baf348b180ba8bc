// Command calibrate is the tool used to size the embedded datasets: it prints their length
// statistics, exports them tokenized for the PyTorch calibration script beside it
// (calibrate.py), and scores the generations that script writes back with this package's
// metrics. It is a tool, not part of the product or of the tests; see README.md here.
//
//	go run ./data/calibrate stats
//	go run ./data/calibrate export DIR
//	go run ./data/calibrate score DIR
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/tokenizer"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "calibrate:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("usage: calibrate stats | export DIR | score DIR")
	}
	switch {
	case args[0] == "stats":
		return stats()
	case args[0] == "export" && len(args) == 2:
		return export(args[1])
	case args[0] == "score" && len(args) == 2:
		return score(args[1])
	}
	return fmt.Errorf("usage: calibrate stats | export DIR | score DIR")
}

func stats() error {
	tok := tokenizer.ByteLevel()
	for _, name := range data.EmbeddedNames() {
		t, err := data.Embedded(name)
		if err != nil {
			return err
		}
		exs, err := t.Train.Encode(tok, data.EncodeOptions{})
		if err != nil {
			return err
		}
		var lens []int
		resp := 0
		for _, e := range exs {
			lens = append(lens, len(e.Tokens))
			resp += len(e.Tokens) - e.PromptLen
		}
		sort.Ints(lens)
		sum := 0
		for _, l := range lens {
			sum += l
		}
		fmt.Printf("%-9s train %d test %d  tokens/sample mean %.1f p50 %d p95 %d max %d  response mean %.1f\n",
			name, t.Train.Len(), t.Test.Len(), float64(sum)/float64(len(lens)), lens[len(lens)/2], lens[len(lens)*95/100], lens[len(lens)-1], float64(resp)/float64(len(exs)))
		for _, s := range t.Train.Samples[:4] {
			fmt.Printf("    %q -> %q\n", s.Prompt, s.Response)
		}
	}
	return nil
}

// export writes, per task, train.jsonl ({"id", "tokens", "prompt_len"}), test.jsonl
// ({"id", "prompt": prompt tokens, "prompt_text", "response": the reference, for reading) and corpus.jsonl (pre-training samples, like train), plus
// meta.json with the special token ids.
func export(dir string) error {
	tok := tokenizer.ByteLevel()
	tmpl := data.DefaultTemplate()
	testPrints := map[string]string{}
	for _, name := range data.EmbeddedNames() {
		t, err := data.Embedded(name)
		if err != nil {
			return err
		}
		corpus, err := data.EmbeddedCorpus(name, 7, 4000)
		if err != nil {
			return err
		}
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		for file, ds := range map[string]*data.Dataset{"train.jsonl": t.Train, "corpus.jsonl": corpus} {
			exs, err := ds.Encode(tok, data.EncodeOptions{})
			if err != nil {
				return err
			}
			var rows []any
			for _, e := range exs {
				rows = append(rows, map[string]any{"id": e.ID, "tokens": e.Tokens, "prompt_len": e.PromptLen})
			}
			if err := writeJSONL(filepath.Join(d, file), rows); err != nil {
				return err
			}
		}
		var rows []any
		for _, s := range t.Test.Samples {
			p, err := tmpl.EncodePrompt(tok, s)
			if err != nil {
				return err
			}
			rows = append(rows, map[string]any{"id": s.ID, "prompt": p, "prompt_text": s.Prompt, "response": s.Response})
		}
		if err := writeJSONL(filepath.Join(d, "test.jsonl"), rows); err != nil {
			return err
		}
		testPrints[name] = t.Test.Fingerprint()
	}
	eos, _ := tok.Special(tokenizer.EOS)
	pad, _ := tok.Special(tokenizer.PAD)
	meta, _ := json.Marshal(map[string]any{"vocab_size": tok.VocabSize(), "eos": eos, "pad": pad, "tasks": data.EmbeddedNames(), "test_fingerprints": testPrints})
	return os.WriteFile(filepath.Join(dir, "meta.json"), meta, 0o644)
}

func writeJSONL(path string, rows []any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// score reads DIR/NAME/gen-*.jsonl ({"id", "tokens"}: generated ids, stop token excluded) and
// prints the metric of each file.
//
// It refuses to score against test splits other than the exported ones: after a generator
// changes, the same IDs name different samples, and scores would be silently wrong.
func score(dir string) error {
	tok := tokenizer.ByteLevel()
	var meta struct {
		TestFingerprints map[string]string `json:"test_fingerprints"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return fmt.Errorf("%s/meta.json: %w", dir, err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "gen-*.jsonl"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, file := range files {
		name := filepath.Base(filepath.Dir(file))
		t, err := data.Embedded(name)
		if err != nil {
			return err
		}
		if got, want := t.Test.Fingerprint(), meta.TestFingerprints[name]; got != want {
			return fmt.Errorf("%s: exported test split has fingerprint %q, the generator now gives %q: score with the source the export came from", name, want, got)
		}
		byID := map[string]data.Sample{}
		for _, s := range t.Test.Samples {
			byID[s.ID] = s
		}
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var scores []data.Score
		for sc.Scan() {
			var row struct {
				ID     string  `json:"id"`
				Tokens []int32 `json:"tokens"`
			}
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				f.Close()
				return fmt.Errorf("%s: %w", file, err)
			}
			s, ok := byID[row.ID]
			if !ok {
				f.Close()
				return fmt.Errorf("%s: unknown id %s", file, row.ID)
			}
			sc, err := data.ScoreSample(t.Metric, s, tok.Decode(row.Tokens))
			if err != nil {
				f.Close()
				return err
			}
			scores = append(scores, sc)
		}
		f.Close()
		fmt.Printf("%-40s %-12s %.3f (%d samples)\n", file, t.Metric, data.Accuracy(scores), len(scores))
	}
	return nil
}
