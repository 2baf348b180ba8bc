package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ordermerge/ordermerge/tensor"
)

// File names inside a checkpoint directory, as Hugging Face names them.
const (
	FileName       = "tokenizer.json"
	ConfigFileName = "tokenizer_config.json"
)

// Save writes t into the checkpoint directory dir (created if needed) as tokenizer.json plus
// tokenizer_config.json, each written atomically.
//
// For the byte-level tokenizer, tokenizer.json is a Hugging Face byte-level BPE file with no
// merges: a ByteLevel pre-tokenizer and decoder (use_regex false, no prefix space), a vocab of
// the 256 byte characters of the GPT-2 alphabet with id = byte value, and the six special
// tokens as added_tokens 256-261. tokenizer_config.json names bos_token, eos_token, pad_token,
// the role markers as additional_special_tokens, and tokenizer_class
// PreTrainedTokenizerFast, so transformers' AutoTokenizer can read the directory too (it gives
// the same ids, except that it would also turn a literal "<|user|>" typed in the text into the
// marker, which ByteLevel never does). Load recognises this exact layout and returns ByteLevel.
//
// A BPE tokenizer is written back as the bytes it was read from.
func Save(dir string, t Tokenizer) error {
	var tokJSON, cfgJSON []byte
	switch t := t.(type) {
	case *Bytes:
		tokJSON, cfgJSON = byteLevelFiles()
	case *BPE:
		tokJSON, cfgJSON = t.raw, t.config
	default:
		return fmt.Errorf("save tokenizer to %s: cannot save a %T (only ByteLevel and BPE tokenizers have a file form)", dir, t)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save tokenizer: %w", err)
	}
	if err := tensor.WriteFileAtomic(filepath.Join(dir, FileName), tokJSON); err != nil {
		return fmt.Errorf("save tokenizer: %w", err)
	}
	if cfgJSON == nil {
		return nil
	}
	if err := tensor.WriteFileAtomic(filepath.Join(dir, ConfigFileName), cfgJSON); err != nil {
		return fmt.Errorf("save tokenizer: %w", err)
	}
	return nil
}

// Load reads a tokenizer from a checkpoint directory or from a tokenizer.json path; a
// tokenizer_config.json in the same directory is read too when present. The byte-level layout
// Save writes comes back as *Bytes; any other byte-level BPE file as *BPE.
func Load(path string) (Tokenizer, error) {
	file := path
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	} else if st.IsDir() {
		file = filepath.Join(path, FileName)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	cfg, err := os.ReadFile(filepath.Join(filepath.Dir(file), ConfigFileName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	b, err := ParseBPE(raw, cfg, file)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	if b.isByteLevelLayout() {
		return ByteLevel(), nil
	}
	return b, nil
}

// isByteLevelLayout reports whether b is exactly the file Save writes for ByteLevel.
func (b *BPE) isByteLevelLayout() bool {
	if b.merges.n != 0 || len(b.vocab) != 256 || !b.byteLevel || b.pre != (byteLevelPre{}) ||
		b.normalizer != nil || len(b.added.raw.tokens) != len(byteSpecials) || len(b.added.norm.tokens) != 0 {
		return false
	}
	for c := 0; c < 256; c++ {
		if b.vocab[string(byteRunes[c])] != int32(c) {
			return false
		}
	}
	for i, s := range byteSpecials {
		if id, ok := b.added.byContent[s.content]; !ok || id != 256+int32(i) {
			return false
		}
	}
	return true
}

// byteLevelFiles renders the two files of the byte-level tokenizer. They are built by hand, in
// id order, so that the bytes are the same on every run (checkpoints are compared bytewise).
func byteLevelFiles() (tokJSON, cfgJSON []byte) {
	var w bytes.Buffer
	q := quoteJSON
	w.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [\n")
	for i, s := range byteSpecials {
		sep := ","
		if i == len(byteSpecials)-1 {
			sep = ""
		}
		fmt.Fprintf(&w, "    {\"id\": %d, \"content\": %s, \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}%s\n", 256+i, q(s.content), sep)
	}
	w.WriteString("  ],\n  \"normalizer\": null,\n")
	w.WriteString("  \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": false},\n")
	w.WriteString("  \"post_processor\": null,\n")
	w.WriteString("  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": false},\n")
	w.WriteString("  \"model\": {\n    \"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, \"continuing_subword_prefix\": null,\n")
	w.WriteString("    \"end_of_word_suffix\": null, \"fuse_unk\": false, \"byte_fallback\": false, \"ignore_merges\": false,\n    \"vocab\": {")
	for c := 0; c < 256; c++ {
		if c%8 == 0 {
			w.WriteString("\n      ")
		} else {
			w.WriteString(" ")
		}
		fmt.Fprintf(&w, "%s: %d", q(string(byteRunes[c])), c)
		if c < 255 {
			w.WriteString(",")
		}
	}
	w.WriteString("\n    },\n    \"merges\": []\n  }\n}\n")
	tokJSON = w.Bytes()

	var c bytes.Buffer
	c.WriteString("{\n  \"tokenizer_class\": \"PreTrainedTokenizerFast\",\n")
	fmt.Fprintf(&c, "  \"bos_token\": %s,\n  \"eos_token\": %s,\n  \"pad_token\": %s,\n", q(byteSpecials[0].content), q(byteSpecials[1].content), q(byteSpecials[2].content))
	fmt.Fprintf(&c, "  \"additional_special_tokens\": [%s, %s, %s],\n", q(byteSpecials[3].content), q(byteSpecials[4].content), q(byteSpecials[5].content))
	c.WriteString("  \"clean_up_tokenization_spaces\": false\n}\n")
	return tokJSON, c.Bytes()
}

// quoteJSON quotes s as a JSON string, leaving < and > alone (json.Marshal would escape them
// for HTML, which makes "<|eos|>" unreadable in the file).
func quoteJSON(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}
