package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// BPE is a tokenizer read from a Hugging Face tokenizer.json whose model is BPE: the byte-level
// family (GPT-2, Llama 3, SmolLM2, Qwen 2/2.5/3, Mistral Nemo) and the SentencePiece-style
// family (Llama 2, TinyLlama, Mistral 7B, Gemma), with their normalizers, pre-tokenizers,
// decoders, post-processor and added tokens. Encoding follows Hugging Face's pipeline:
//
//  1. Added tokens whose "normalized" flag is false are matched in the raw text (leftmost,
//     longest first, with their lstrip/rstrip/single_word flags).
//  2. Each stretch between them is normalized (NFC, NFKC, Prepend, Replace, ...); added tokens
//     with "normalized" set are then matched in the normalized text.
//  3. The pre-tokenizer cuts the rest into pieces (Split patterns, ByteLevel, Metaspace,
//     Digits, ...); BPE never merges across pieces.
//  4. Each piece becomes symbols (bytes in the byte alphabet, or characters with <0xXX> byte
//     fallback or unk) that are merged lowest rank first; see merge.go.
//
// Encode stops there, as Hugging Face's add_special_tokens=False does; EncodeSpecial also runs
// the post-processor (the BOS that Llama and Gemma files add). Decode maps ids to token strings
// (added tokens first) and runs the decoder chain.
//
// Refused at load, by name: model types other than BPE (Unigram, WordPiece, WordLevel), BPE
// with a continuing_subword_prefix or end_of_word_suffix, normalizers, pre-tokenizers,
// decoders and post-processors not listed in their parsers, and patterns outside the regex
// subset of regex.go. Dropout is ignored: encoding is deterministic.
type BPE struct {
	vocab    map[string]int32
	rawVocab map[string]int32 // byte-level: token as raw bytes -> id (for ignore_merges)
	tokens   []string         // id -> token string, added tokens included; see hasToken
	has      []bool
	merges   *mergeTable
	byteIDs  [256]int32     // byte-level: id of each byte; otherwise the <0xXX> token or -1
	charIDs  map[rune]int32 // non-byte-level: single-character tokens
	unk      int32          // -1: none

	byteLevel, byteFallback, fuseUnk, ignoreMerges bool

	normalizer normalizer
	pre        preTokenizer
	dec        decoder
	post       postProcessor
	added      addedVocab

	specials     map[string]int32 // role name or added-token content -> id
	contents     map[int32]string // added token id -> content as written in the file
	chatTemplate string
	vocabSize    int
	// raw and config are the files as read, written back verbatim by Save.
	raw, config []byte
}

// hfTokenizer is the part of tokenizer.json the loader reads.
type hfTokenizer struct {
	AddedTokens   []addedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         struct {
		Type                    *string          `json:"type"`
		Vocab                   map[string]int32 `json:"vocab"`
		Merges                  json.RawMessage  `json:"merges"`
		UnkToken                *string          `json:"unk_token"`
		ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
		ByteFallback            bool             `json:"byte_fallback"`
		FuseUnk                 bool             `json:"fuse_unk"`
		IgnoreMerges            bool             `json:"ignore_merges"`
	} `json:"model"`
}

// ParseBPE builds a tokenizer from the bytes of a tokenizer.json and, optionally, of the
// tokenizer_config.json beside it (nil if there is none). The config names the BOS/EOS/PAD
// tokens (a null entry means the model has none) and holds the chat template. source names the
// file in errors.
func ParseBPE(tokenizerJSON, configJSON []byte, source string) (*BPE, error) {
	var f hfTokenizer
	if err := json.Unmarshal(tokenizerJSON, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	m := &f.Model
	if m.Type != nil && *m.Type != "BPE" {
		return nil, fmt.Errorf("%s: model.type is %q; only BPE models are supported (not Unigram, WordPiece or WordLevel)", source, *m.Type)
	}
	if m.Type == nil && isNull(m.Merges) {
		return nil, fmt.Errorf("%s: model has no type and no merges; only BPE models are supported", source)
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return nil, fmt.Errorf("%s: model.continuing_subword_prefix %q is not supported", source, *m.ContinuingSubwordPrefix)
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, fmt.Errorf("%s: model.end_of_word_suffix %q is not supported", source, *m.EndOfWordSuffix)
	}
	if len(m.Vocab) == 0 {
		return nil, fmt.Errorf("%s: model.vocab is empty", source)
	}
	t := &BPE{
		vocab:        m.Vocab,
		unk:          -1,
		byteFallback: m.ByteFallback,
		fuseUnk:      m.FuseUnk,
		ignoreMerges: m.IgnoreMerges,
		specials:     map[string]int32{},
		contents:     map[int32]string{},
		raw:          tokenizerJSON,
		config:       configJSON,
	}
	var err error
	if t.normalizer, err = parseNormalizer(f.Normalizer, "normalizer"); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if t.pre, t.byteLevel, err = parsePreTokenizer(f.PreTokenizer, "pre_tokenizer"); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if t.dec, err = parseDecoder(f.Decoder, "decoder"); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	for s, id := range m.Vocab {
		if id < 0 {
			return nil, fmt.Errorf("%s: model.vocab[%q] has negative id %d", source, s, id)
		}
		t.vocabSize = max(t.vocabSize, int(id)+1)
	}
	for i, a := range f.AddedTokens {
		if a.Content == "" || a.ID < 0 {
			return nil, fmt.Errorf("%s: added_tokens[%d]: empty content or negative id", source, i)
		}
		// A token already in the vocabulary keeps the vocabulary's id, as Hugging Face's
		// AddedVocabulary gives it (published files never disagree; edited ones may).
		if id, ok := m.Vocab[a.Content]; ok {
			f.AddedTokens[i].ID = id
		}
		t.vocabSize = max(t.vocabSize, int(f.AddedTokens[i].ID)+1)
	}
	t.tokens = make([]string, t.vocabSize)
	t.has = make([]bool, t.vocabSize)
	for s, id := range m.Vocab {
		t.tokens[id], t.has[id] = s, true
	}
	if err := t.readSymbols(source); err != nil {
		return nil, err
	}
	if m.UnkToken != nil && *m.UnkToken != "" {
		id, ok := m.Vocab[*m.UnkToken]
		if !ok {
			return nil, fmt.Errorf("%s: model.unk_token %q is not in model.vocab", source, *m.UnkToken)
		}
		t.unk = id
	}
	if err := t.readMerges(m.Merges, source); err != nil {
		return nil, err
	}
	if err := t.added.init(f.AddedTokens, t.normalizer); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	for _, a := range f.AddedTokens {
		// Hugging Face gives a normalized added token back as its normalized content.
		content := a.Content
		if a.Normalized && t.normalizer != nil {
			content = t.normalizer.normalize(content)
		}
		t.tokens[a.ID], t.has[a.ID] = content, true
		t.specials[a.Content] = a.ID
		t.contents[a.ID] = a.Content
	}
	if t.post, err = parsePostProcessor(f.PostProcessor, "post_processor", t.lookup); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if err := t.readConfig(configJSON, source); err != nil {
		return nil, err
	}
	return t, nil
}

// readSymbols prepares the first step of the model: the id of every byte (byte-level files) or
// of every single-character token and <0xXX> byte token (the others).
func (t *BPE) readSymbols(source string) error {
	if t.byteLevel {
		if t.byteFallback {
			return fmt.Errorf("%s: model.byte_fallback is set together with a ByteLevel pre-tokenizer; no published file does that and it is not supported", source)
		}
		for b := 0; b < 256; b++ {
			id, ok := t.vocab[string(byteRunes[b])]
			if !ok {
				return fmt.Errorf("%s: model.vocab has no token for byte 0x%02x (%q); a ByteLevel pre-tokenizer needs all 256", source, b, string(byteRunes[b]))
			}
			t.byteIDs[b] = id
		}
		t.rawVocab = make(map[string]int32, len(t.vocab))
		for s, id := range t.vocab {
			if raw, ok := vocabToBytes(s); ok {
				t.rawVocab[raw] = id
			}
		}
		return nil
	}
	t.charIDs = map[rune]int32{}
	for s, id := range t.vocab {
		if r, n := utf8.DecodeRuneInString(s); n == len(s) && r != utf8.RuneError {
			t.charIDs[r] = id
		}
	}
	for b := 0; b < 256; b++ {
		t.byteIDs[b] = -1
		if id, ok := t.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			t.byteIDs[b] = id
		}
	}
	return nil
}

// vocabToBytes reads a byte-alphabet token as the bytes it stands for.
func vocabToBytes(s string) (string, bool) {
	var b []byte
	for _, r := range s {
		c, ok := byteOfRune(r)
		if !ok {
			return "", false
		}
		b = append(b, c)
	}
	return string(b), true
}

func (t *BPE) readMerges(raw json.RawMessage, source string) error {
	if isNull(raw) {
		t.merges = newMergeTable(0)
		return nil
	}
	// Two layouts exist: ["a b", ...] (older files) and [["a", "b"], ...] (tokenizers >= 0.20).
	var pairs [][2]string
	var legacy []string
	// Look at the first element to pick the layout: decoding the whole list as the wrong one
	// first would scan megabytes for nothing.
	if pairLayout(raw) {
		if err := json.Unmarshal(raw, &pairs); err != nil {
			return fmt.Errorf("%s: model.merges: want a list of [a, b] pairs: %w", source, err)
		}
	} else if err := json.Unmarshal(raw, &legacy); err == nil {
		pairs = make([][2]string, len(legacy))
		for i, s := range legacy {
			a, b, ok := strings.Cut(s, " ")
			if !ok || a == "" || b == "" || strings.Contains(b, " ") {
				return fmt.Errorf("%s: model.merges[%d] = %q: want two tokens separated by one space", source, i, s)
			}
			pairs[i] = [2]string{a, b}
		}
	} else if err := json.Unmarshal(raw, &pairs); err != nil {
		return fmt.Errorf("%s: model.merges: want a list of \"a b\" strings or of [a, b] pairs: %w", source, err)
	}
	t.merges = newMergeTable(len(pairs))
	for i, p := range pairs {
		a, okA := t.vocab[p[0]]
		b, okB := t.vocab[p[1]]
		id, okAB := t.vocab[p[0]+p[1]]
		if !okA || !okB || !okAB {
			return fmt.Errorf("%s: model.merges[%d] = %q %q: a part or the merged token is not in model.vocab", source, i, p[0], p[1])
		}
		// A pair listed twice keeps its last rank, as Hugging Face's map does.
		t.merges.put(a, b, merge{rank: int32(i), id: id})
	}
	return nil
}

// pairLayout reports whether a merges list holds [a, b] pairs (its first element is a list).
func pairLayout(raw json.RawMessage) bool {
	b := bytes.TrimLeft(raw, " \t\r\n")
	if len(b) == 0 || b[0] != '[' {
		return false
	}
	b = bytes.TrimLeft(b[1:], " \t\r\n")
	return len(b) > 0 && b[0] == '['
}

// lookup finds a token's id among the added tokens, then the vocabulary.
func (t *BPE) lookup(content string) (int32, bool) {
	if id, ok := t.added.byContent[content]; ok {
		return id, true
	}
	id, ok := t.vocab[content]
	return id, ok
}

// VocabSize is one more than the largest id in the vocabulary or the added tokens.
func (t *BPE) VocabSize() int { return t.vocabSize }

// Special looks up a role name (bos, eos, pad, unk from tokenizer_config.json; system, user,
// assistant when the file has such marker tokens) or the content of any added token.
func (t *BPE) Special(name string) (int32, bool) {
	id, ok := t.specials[name]
	return id, ok
}

// SpecialContent returns the text of the token Special(name) finds: "<|begin_of_text|>" for
// "bos" with a Llama 3 file. Chat templates are given these texts (bos_token, eos_token).
func (t *BPE) SpecialContent(name string) (string, bool) {
	id, ok := t.specials[name]
	if !ok {
		return "", false
	}
	if c, ok := t.contents[id]; ok {
		return c, true
	}
	return t.tokens[id], true
}

// ChatTemplate returns the Jinja chat template of tokenizer_config.json ("" if it has none).
func (t *BPE) ChatTemplate() string { return t.chatTemplate }

// Encode returns the ids of text without the post-processor's special tokens (Hugging Face's
// add_special_tokens=False); added tokens written in the text are still matched.
func (t *BPE) Encode(text string) []int32 {
	return t.encode(nil, text)
}

// EncodeSpecial returns the ids of text with the post-processor's special tokens, such as the
// BOS of Llama 2 and Gemma files (Hugging Face's default add_special_tokens=True).
func (t *BPE) EncodeSpecial(text string) []int32 {
	ids := t.encode(nil, text)
	if t.post == nil {
		return ids
	}
	return t.post.apply(ids)
}

func (t *BPE) encode(ids []int32, text string) []int32 {
	t.added.raw.each(text, true, func(seg string, first bool, id int32) {
		if id >= 0 {
			ids = append(ids, id)
			return
		}
		if t.normalizer != nil {
			seg = t.normalizer.normalize(seg)
		}
		t.added.norm.each(seg, first, func(sub string, first bool, id int32) {
			if id >= 0 {
				ids = append(ids, id)
				return
			}
			ids = t.encodeSegment(ids, piece{text: sub, first: first})
		})
	})
	return ids
}

// encodeSegment pre-tokenizes a stretch that holds no added token and encodes each piece.
func (t *BPE) encodeSegment(ids []int32, seg piece) []int32 {
	if seg.text == "" {
		return ids
	}
	if t.pre == nil {
		return t.encodePiece(ids, seg.text)
	}
	var buf [16]piece
	for _, p := range t.pre.split(buf[:0], seg) {
		ids = t.encodePiece(ids, p.text)
	}
	return ids
}

// encodePiece runs the model on one pre-token.
func (t *BPE) encodePiece(ids []int32, s string) []int32 {
	if s == "" {
		return ids
	}
	if t.byteLevel {
		if t.ignoreMerges {
			if id, ok := t.rawVocab[s]; ok {
				return append(ids, id)
			}
		}
		start := len(ids)
		for i := 0; i < len(s); i++ {
			ids = append(ids, t.byteIDs[s[i]])
		}
		row := mergeRow(t.merges, ids[start:])
		return ids[:start+len(row)]
	}
	if t.ignoreMerges {
		if id, ok := t.vocab[s]; ok {
			return append(ids, id)
		}
	}
	start := len(ids)
	unk, unkOpen := int32(-1), false
	for i, r := range s {
		n := utf8.RuneLen(r)
		if r == utf8.RuneError {
			_, n = utf8.DecodeRuneInString(s[i:])
		}
		if id, ok := t.charIDs[r]; ok && (r != utf8.RuneError || n == 3) {
			if unkOpen {
				ids = append(ids, unk)
				unkOpen = false
			}
			ids = append(ids, id)
			continue
		}
		if t.byteFallback && t.hasByteTokens(s[i:i+n]) {
			for k := i; k < i+n; k++ {
				ids = append(ids, t.byteIDs[s[k]])
			}
			continue
		}
		if t.unk >= 0 {
			if unkOpen && !t.fuseUnk {
				ids = append(ids, unk)
			}
			unk, unkOpen = t.unk, true
		}
	}
	if unkOpen {
		ids = append(ids, unk)
	}
	row := mergeRow(t.merges, ids[start:])
	return ids[:start+len(row)]
}

func (t *BPE) hasByteTokens(s string) bool {
	for k := 0; k < len(s); k++ {
		if t.byteIDs[s[k]] < 0 {
			return false
		}
	}
	return true
}

// Decode maps ids to their token strings (added tokens by content) and runs the decoder chain,
// as Hugging Face's decode(ids, skip_special_tokens=False) does. Ids outside the vocabulary
// are written as "<|unk:ID|>".
func (t *BPE) Decode(ids []int32) string {
	toks := make([]string, len(ids))
	for i, id := range ids {
		if id >= 0 && int(id) < len(t.tokens) && t.has[id] {
			toks[i] = t.tokens[id]
		} else {
			toks[i] = unknownToken(id)
		}
	}
	if t.dec == nil {
		return strings.Join(toks, " ")
	}
	return strings.Join(t.dec.decodeChain(toks), "")
}
