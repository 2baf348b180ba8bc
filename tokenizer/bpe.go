package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// BPE is a byte-level BPE tokenizer read from a Hugging Face tokenizer.json (GPT-2, Llama 3,
// Qwen 2 and their relatives). Encoding follows that format's rules: added tokens are matched
// in the text first (longest match at the leftmost position), the rest is cut by the
// pre-tokenizer's pattern, each piece is written in the byte alphabet, and adjacent symbols are
// merged lowest rank first until no listed merge applies.
//
// Not supported (Load says so by name): normalizers, SentencePiece-style models with
// byte_fallback (Llama 2), word-piece prefixes/suffixes, and pre-tokenizer patterns other than
// the GPT-2, Llama 3 and Qwen 2 ones. Post-processors are ignored: Encode never adds BOS/EOS
// (the prompt template does). Dropout is ignored: encoding is deterministic.
type BPE struct {
	vocab        map[string]int32
	tokens       map[int32]string // id -> vocab string (byte alphabet)
	merges       map[[2]int32]merge
	added        []addedToken     // sorted by content length, longest first
	addedFirst   [256][]int       // first byte of content -> indices into added
	addedByID    map[int32]string // id -> content
	split        splitter         // nil: a whole segment is one piece
	prefixSpace  bool
	ignoreMerges bool
	specials     map[string]int32 // role name or content -> id
	vocabSize    int
	// raw and config are the files as read, written back verbatim by Save.
	raw, config []byte
}

type merge struct {
	rank int32
	id   int32
}

type addedToken struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// hfTokenizer is the part of tokenizer.json the loader reads.
type hfTokenizer struct {
	AddedTokens  []addedToken    `json:"added_tokens"`
	Normalizer   json.RawMessage `json:"normalizer"`
	PreTokenizer json.RawMessage `json:"pre_tokenizer"`
	Decoder      json.RawMessage `json:"decoder"`
	Model        struct {
		Type                    string           `json:"type"`
		Vocab                   map[string]int32 `json:"vocab"`
		Merges                  json.RawMessage  `json:"merges"`
		UnkToken                *string          `json:"unk_token"`
		ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
		ByteFallback            bool             `json:"byte_fallback"`
		IgnoreMerges            bool             `json:"ignore_merges"`
	} `json:"model"`
}

type hfPreTokenizer struct {
	Type           string           `json:"type"`
	AddPrefixSpace bool             `json:"add_prefix_space"`
	UseRegex       *bool            `json:"use_regex"`
	Pretokenizers  []hfPreTokenizer `json:"pretokenizers"`
	Pattern        struct {
		Regex  *string `json:"Regex"`
		String *string `json:"String"`
	} `json:"pattern"`
	Behavior string `json:"behavior"`
	Invert   bool   `json:"invert"`
}

// ParseBPE builds a BPE tokenizer from the bytes of a tokenizer.json and, optionally, of the
// tokenizer_config.json beside it (nil if there is none; it names the BOS/EOS/PAD tokens).
// source names the file in errors.
func ParseBPE(tokenizerJSON, configJSON []byte, source string) (*BPE, error) {
	var f hfTokenizer
	if err := json.Unmarshal(tokenizerJSON, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	m := &f.Model
	if m.Type != "BPE" {
		return nil, fmt.Errorf("%s: model.type is %q; only byte-level BPE is supported", source, m.Type)
	}
	if m.ByteFallback {
		return nil, fmt.Errorf("%s: model.byte_fallback is set (a SentencePiece-style tokenizer such as Llama 2's); only byte-level BPE is supported", source)
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return nil, fmt.Errorf("%s: model.continuing_subword_prefix is not supported", source)
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, fmt.Errorf("%s: model.end_of_word_suffix is not supported", source)
	}
	if len(m.Vocab) == 0 {
		return nil, fmt.Errorf("%s: model.vocab is empty", source)
	}
	if n := bytes.TrimSpace(f.Normalizer); len(n) > 0 && !bytes.Equal(n, []byte("null")) {
		return nil, fmt.Errorf("%s: normalizer %s is not supported (byte-level BPE files have none)", source, n)
	}
	t := &BPE{
		vocab:        m.Vocab,
		tokens:       make(map[int32]string, len(m.Vocab)),
		merges:       map[[2]int32]merge{},
		addedByID:    map[int32]string{},
		specials:     map[string]int32{},
		ignoreMerges: m.IgnoreMerges,
		raw:          tokenizerJSON,
		config:       configJSON,
	}
	for s, id := range m.Vocab {
		if id < 0 {
			return nil, fmt.Errorf("%s: model.vocab[%q] has negative id %d", source, s, id)
		}
		t.tokens[id] = s
		t.vocabSize = max(t.vocabSize, int(id)+1)
	}
	// Every byte must have a token, or some text could not be encoded at all.
	for b := 0; b < 256; b++ {
		if _, ok := m.Vocab[string(byteRunes[b])]; !ok {
			return nil, fmt.Errorf("%s: model.vocab has no token for byte 0x%02x (%q); not a byte-level vocabulary", source, b, string(byteRunes[b]))
		}
	}
	if err := t.readMerges(m.Merges, source); err != nil {
		return nil, err
	}
	if err := t.readPreTokenizer(f.PreTokenizer, source); err != nil {
		return nil, err
	}
	for i, a := range f.AddedTokens {
		if a.Content == "" || a.ID < 0 {
			return nil, fmt.Errorf("%s: added_tokens[%d]: empty content or negative id", source, i)
		}
		t.added = append(t.added, a)
		t.addedByID[a.ID] = a.Content
		t.specials[a.Content] = a.ID
		t.vocabSize = max(t.vocabSize, int(a.ID)+1)
	}
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i].Content) > len(t.added[j].Content) })
	for i, a := range t.added {
		t.addedFirst[a.Content[0]] = append(t.addedFirst[a.Content[0]], i)
	}
	if err := t.readSpecialNames(configJSON, source); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *BPE) readMerges(raw json.RawMessage, source string) error {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil
	}
	// Two layouts exist: ["a b", ...] (older files) and [["a", "b"], ...] (tokenizers >= 0.20).
	var pairs [][2]string
	var legacy []string
	if err := json.Unmarshal(raw, &legacy); err == nil {
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
	for i, p := range pairs {
		a, okA := t.vocab[p[0]]
		b, okB := t.vocab[p[1]]
		id, okAB := t.vocab[p[0]+p[1]]
		if !okA || !okB || !okAB {
			return fmt.Errorf("%s: model.merges[%d] = %q %q: a part or the merged token is not in model.vocab", source, i, p[0], p[1])
		}
		key := [2]int32{a, b}
		if _, dup := t.merges[key]; !dup { // the first listing has the rank
			t.merges[key] = merge{rank: int32(i), id: id}
		}
	}
	return nil
}

func (t *BPE) readPreTokenizer(raw json.RawMessage, source string) error {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return fmt.Errorf("%s: no pre_tokenizer; a byte-level BPE file has a ByteLevel one", source)
	}
	var p hfPreTokenizer
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("%s: pre_tokenizer: %w", source, err)
	}
	steps := []hfPreTokenizer{p}
	if p.Type == "Sequence" {
		steps = p.Pretokenizers
	}
	sawByteLevel := false
	for i, s := range steps {
		switch s.Type {
		case "Split":
			if sawByteLevel || t.split != nil {
				return fmt.Errorf("%s: pre_tokenizer step %d: a Split must come once, before ByteLevel", source, i)
			}
			if s.Pattern.Regex == nil || s.Behavior != "Isolated" || s.Invert {
				return fmt.Errorf("%s: pre_tokenizer step %d: only an Isolated, non-inverted Regex split is supported", source, i)
			}
			switch *s.Pattern.Regex {
			case llama3Pattern:
				t.split = llama3Split(3)
			case qwen2Pattern:
				t.split = llama3Split(1)
			case gpt2Pattern:
				t.split = gpt2Split
			default:
				return fmt.Errorf("%s: pre_tokenizer step %d: split pattern %q is not one of the GPT-2, Llama 3 or Qwen 2 patterns", source, i, *s.Pattern.Regex)
			}
		case "ByteLevel":
			sawByteLevel = true
			t.prefixSpace = s.AddPrefixSpace
			// use_regex defaults to true in the format: the GPT-2 pattern.
			if s.UseRegex == nil || *s.UseRegex {
				if t.split != nil {
					return fmt.Errorf("%s: pre_tokenizer step %d: ByteLevel with use_regex after a Split is not supported", source, i)
				}
				t.split = gpt2Split
			}
		default:
			return fmt.Errorf("%s: pre_tokenizer step %d: type %q is not supported (want ByteLevel, or Split then ByteLevel)", source, i, s.Type)
		}
	}
	if !sawByteLevel {
		return fmt.Errorf("%s: pre_tokenizer has no ByteLevel step; only byte-level BPE is supported", source)
	}
	return nil
}

// readSpecialNames binds the role names BOS/EOS/PAD to tokens: from tokenizer_config.json when
// it names them, otherwise from the well-known contents of the GPT-2 and Llama 3 families.
func (t *BPE) readSpecialNames(configJSON []byte, source string) error {
	if len(bytes.TrimSpace(configJSON)) > 0 {
		var cfg map[string]json.RawMessage
		if err := json.Unmarshal(configJSON, &cfg); err != nil {
			return fmt.Errorf("%s: tokenizer_config.json: %w", source, err)
		}
		for name, key := range map[string]string{BOS: "bos_token", EOS: "eos_token", PAD: "pad_token"} {
			content, err := configToken(cfg[key])
			if err != nil {
				return fmt.Errorf("%s: tokenizer_config.json: %s: %w", source, key, err)
			}
			if content == "" {
				continue
			}
			id, ok := t.specials[content]
			if !ok {
				id, ok = t.vocab[content]
			}
			if !ok {
				return fmt.Errorf("%s: tokenizer_config.json: %s %q is not a token", source, key, content)
			}
			t.specials[name] = id
		}
	}
	guesses := map[string][]string{
		BOS:       {"<|begin_of_text|>", "<s>", "<|bos|>", "<|endoftext|>"},
		EOS:       {"<|end_of_text|>", "</s>", "<|eos|>", "<|endoftext|>"},
		PAD:       {"<|pad|>", "<pad>"},
		System:    {"<|system|>"},
		User:      {"<|user|>"},
		Assistant: {"<|assistant|>"},
	}
	for name, contents := range guesses {
		if _, ok := t.specials[name]; ok {
			continue
		}
		for _, c := range contents {
			if id, ok := t.addedID(c); ok {
				t.specials[name] = id
				break
			}
		}
	}
	return nil
}

func (t *BPE) addedID(content string) (int32, bool) {
	for _, a := range t.added {
		if a.Content == content {
			return a.ID, true
		}
	}
	return 0, false
}

// configToken reads a token entry of tokenizer_config.json: a string, an AddedToken object
// ({"content": ...}), or null.
func configToken(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", fmt.Errorf("want a string or an object with content: %w", err)
	}
	return obj.Content, nil
}

// VocabSize is one more than the largest id in the vocabulary or the added tokens.
func (t *BPE) VocabSize() int { return t.vocabSize }

// Special looks up a role name bound by tokenizer_config.json (or guessed from the family's
// well-known tokens) or the content of any added token.
func (t *BPE) Special(name string) (int32, bool) {
	id, ok := t.specials[name]
	return id, ok
}

// Encode returns the ids of text; see BPE for the rules.
func (t *BPE) Encode(text string) []int32 {
	var ids []int32
	start := 0
	for i := 0; i < len(text); {
		a, from, to, ok := t.matchAdded(text, i, start)
		if !ok {
			i++
			continue
		}
		ids = t.encodeSegment(ids, text[start:from])
		ids = append(ids, a.ID)
		start, i = to, to
	}
	return t.encodeSegment(ids, text[start:])
}

// matchAdded reports the longest added token starting at i, with the span it covers once its
// lstrip/rstrip flags have absorbed neighbouring whitespace (never before floor, where the
// previous added token ended).
func (t *BPE) matchAdded(text string, i, floor int) (addedToken, int, int, bool) {
	for _, k := range t.addedFirst[text[i]] {
		a := t.added[k]
		if !strings.HasPrefix(text[i:], a.Content) {
			continue
		}
		end := i + len(a.Content)
		if a.SingleWord && (isWordByteBefore(text, i) || isWordByteAt(text, end)) {
			continue
		}
		from, to := i, end
		if a.LStrip {
			for from > floor && isASCIISpace(text[from-1]) {
				from--
			}
		}
		if a.RStrip {
			for to < len(text) && isASCIISpace(text[to]) {
				to++
			}
		}
		return a, from, to, true
	}
	return addedToken{}, 0, 0, false
}

func isASCIISpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isWordByte(c byte) bool {
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}
func isWordByteBefore(s string, i int) bool { return i > 0 && isWordByte(s[i-1]) }
func isWordByteAt(s string, i int) bool     { return i < len(s) && isWordByte(s[i]) }

// encodeSegment encodes text that holds no added token.
func (t *BPE) encodeSegment(ids []int32, seg string) []int32 {
	if seg == "" {
		return ids
	}
	if t.prefixSpace && seg[0] != ' ' {
		seg = " " + seg
	}
	if t.split == nil {
		return t.encodePiece(ids, seg)
	}
	for _, p := range split(seg, t.split) {
		ids = t.encodePiece(ids, p)
	}
	return ids
}

// encodePiece applies the merges to one pre-token. Merging the lowest-ranked adjacent pair
// first, leftmost among equals, gives the same result as the format's priority-queue
// formulation; pieces are short, so the quadratic scan is cheap.
func (t *BPE) encodePiece(ids []int32, piece string) []int32 {
	word := bytesToVocab(piece)
	if t.ignoreMerges {
		if id, ok := t.vocab[word]; ok {
			return append(ids, id)
		}
	}
	syms := make([]int32, 0, len(piece))
	for i := 0; i < len(piece); i++ {
		syms = append(syms, t.vocab[string(byteRunes[piece[i]])]) // present: checked at load
	}
	for len(syms) > 1 {
		best, at := merge{rank: -1}, -1
		for k := 0; k+1 < len(syms); k++ {
			m, ok := t.merges[[2]int32{syms[k], syms[k+1]}]
			if ok && (at < 0 || m.rank < best.rank) {
				best, at = m, k
			}
		}
		if at < 0 {
			break
		}
		syms[at] = best.id
		syms = append(syms[:at+1], syms[at+2:]...)
	}
	return append(ids, syms...)
}

// Decode writes added tokens as their content and vocabulary tokens as the bytes their
// characters stand for.
func (t *BPE) Decode(ids []int32) string {
	var sb strings.Builder
	for _, id := range ids {
		if c, ok := t.addedByID[id]; ok {
			sb.WriteString(c)
			continue
		}
		s, ok := t.tokens[id]
		if !ok {
			sb.WriteString(unknownToken(id))
			continue
		}
		for _, r := range s {
			if b, ok := byteOfRune(r); ok {
				sb.WriteByte(b)
			} else {
				sb.WriteRune(r)
			}
		}
	}
	return sb.String()
}
