package tokenizer

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// testVocab returns the 256 byte tokens with id = byte value, plus extra tokens from id 256 on.
func testVocab(extra ...string) map[string]int32 {
	v := map[string]int32{}
	for b := 0; b < 256; b++ {
		v[string(byteRunes[b])] = int32(b)
	}
	for i, s := range extra {
		v[s] = 256 + int32(i)
	}
	return v
}

// gpt2Style builds a GPT-2-layout tokenizer.json: ByteLevel pre-tokenizer with its regex,
// merges as "a b" strings, and <|endoftext|> as an added special token.
func gpt2Style(t testing.TB) []byte {
	t.Helper()
	// Merged tokens get ids 256.. in the order listed; merges are ranked in the same order.
	merged := []string{"Ġt", "he", "ll", "Ġthe", "hell", "hello", "or", "Ġw", "Ġwor", "12"}
	merges := []string{"Ġ t", "h e", "l l", "Ġt he", "he ll", "hell o", "o r", "Ġ w", "Ġw or", "1 2"}
	f := map[string]any{
		"version":        "1.0",
		"added_tokens":   []map[string]any{{"id": 266, "content": "<|endoftext|>", "special": true}},
		"normalizer":     nil,
		"pre_tokenizer":  map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"post_processor": nil,
		"decoder":        map[string]any{"type": "ByteLevel"},
		"model":          map[string]any{"type": "BPE", "vocab": testVocab(merged...), "merges": merges},
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// llama3Style builds a Llama-3-layout file: Split(Llama 3 regex) then ByteLevel without regex,
// merges as pairs, ignore_merges set, and a tokenizer_config naming BOS/EOS.
func llama3Style(t testing.TB) ([]byte, []byte) {
	t.Helper()
	merged := []string{"ll", "Ġw", "or", "Ġwor", "Ġworld", "12", "123"}
	merges := [][2]string{{"l", "l"}, {"Ġ", "w"}, {"o", "r"}, {"Ġw", "or"}, {"Ġwor", "ld"}, {"1", "2"}, {"12", "3"}}
	vocab := testVocab(merged...)
	vocab["ld"] = 300    // in the vocab, but "l d" is not a merge: reachable only as a whole word
	vocab["hello"] = 301 // likewise: ignore_merges makes the whole piece one token
	f := map[string]any{
		"added_tokens": []map[string]any{
			{"id": 400, "content": "<|begin_of_text|>", "special": true},
			{"id": 401, "content": "<|eot_id|>", "special": true},
		},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": llama3Pattern}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false},
		}},
		"decoder": map[string]any{"type": "ByteLevel"},
		"model":   map[string]any{"type": "BPE", "vocab": vocab, "merges": merges, "ignore_merges": true},
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	cfg := []byte(`{"bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|eot_id|>", "special": true}, "pad_token": null}`)
	return b, cfg
}

func TestBPEGPT2HandWorkedIDs(t *testing.T) {
	tok, err := ParseBPE(gpt2Style(t), nil, "gpt2.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := []encodeCase{
		// "hello": h e l l o -> he l l o (rank 1) -> he ll o (2) -> hell o (4) -> hello (5).
		// " the": Ġ t h e -> Ġt h e (0) -> Ġt he (1) -> Ġthe (3).
		// " world": Ġ w o r l d -> Ġ w or l d (6) -> Ġw or l d (7) -> Ġwor l d (8); no more.
		{"hello the world", []int32{261, 259, 264, 'l', 'd'}},
		// The added token is cut out first; " 12" is one pre-token: Ġ 1 2 -> Ġ 12 (9).
		{"hello<|endoftext|> 12", []int32{261, 266, ' ', 265}},
		// Two equal-rank pairs: the leftmost merges first, leaving "ll" "l".
		{"lll", []int32{258, 'l'}},
		// The GPT-2 pattern leaves the last space of a run to the next word: " ", " the".
		{"  the", []int32{' ', 259}},
		// "'s" is its own piece; no merges apply inside it.
		{"he's", []int32{257, '\'', 's'}},
		// Non-ASCII: bytes of é (c3 a9) are the ids 0xc3 0xa9.
		{"é", []int32{0xc3, 0xa9}},
		{"", nil},
	}
	checkEncode(t, tok, cases)
	if n := tok.VocabSize(); n != 267 {
		t.Errorf("VocabSize = %d, want 267", n)
	}
	// No config: the GPT-2 family's one special token stands for both BOS and EOS.
	for _, name := range []string{BOS, EOS, "<|endoftext|>"} {
		if id, ok := tok.Special(name); !ok || id != 266 {
			t.Errorf("Special(%q) = %d, %v; want 266", name, id, ok)
		}
	}
	if _, ok := tok.Special(PAD); ok {
		t.Error("Special(pad) found a token; the file has none")
	}
}

func TestBPELlama3HandWorkedIDs(t *testing.T) {
	raw, cfg := llama3Style(t)
	tok, err := ParseBPE(raw, cfg, "llama3.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := []encodeCase{
		// Pieces "hello" " world": both are whole vocab words, and ignore_merges emits them
		// as such (301 was never reachable by merges; 260 would be, through "Ġwor" "ld", but
		// "l d" is no merge).
		{"hello world", []int32{301, 260}},
		// " words" is no vocab word, so merges run: Ġ w o r d s -> Ġw o r d s (rank 1)
		// -> Ġw or d s (2) -> Ġwor d s (3).
		{" words", []int32{259, 'd', 's'}},
		// Without the space: w o r l d s -> w or l d s (2); nothing else applies.
		{"worlds", []int32{'w', 258, 'l', 'd', 's'}},
		// Digits go in threes: "12345" -> "123" "45"; 1 2 3 -> 12 3 (5) -> 123 (6).
		{"12345", []int32{262, '4', '5'}},
		// Special tokens are matched before splitting.
		{"<|begin_of_text|>hi<|eot_id|>", []int32{400, 'h', 'i', 401}},
		// "ld" alone is a vocab word, so ignore_merges emits it whole.
		{"ld", []int32{300}},
	}
	checkEncode(t, tok, cases)
	if id, ok := tok.Special(BOS); !ok || id != 400 {
		t.Errorf("Special(bos) = %d, %v; want 400 from tokenizer_config.json", id, ok)
	}
	if id, ok := tok.Special(EOS); !ok || id != 401 {
		t.Errorf("Special(eos) = %d, %v; want 401 (an AddedToken object in the config)", id, ok)
	}
}

func TestSplitPatterns(t *testing.T) {
	cases := []struct {
		name string
		s    splitter
		text string
		want []string
	}{
		{"gpt2", gpt2Split, "Hello  world's 123\n\nfoo!! ",
			[]string{"Hello", " ", " world", "'s", " 123", "\n", "\n", "foo", "!!", " "}},
		{"gpt2-upper-contraction", gpt2Split, "I'M", []string{"I", "'", "M"}},
		{"llama3", llama3Split(3), "Hello  world's 12345\n\n  foo!!\nI'M ok",
			[]string{"Hello", " ", " world", "'s", " ", "123", "45", "\n\n", " ", " foo", "!!\n", "I", "'M", " ok"}},
		{"qwen2-digits", llama3Split(1), "x 2024", []string{"x", " ", "2", "0", "2", "4"}},
		{"llama3-punct-before-word", llama3Split(3), "(abc) \tdef", []string{"(abc", ")", " ", "\tdef"}},
		{"unicode-space", gpt2Split, "a\u3000\u3000b", []string{"a", "\u3000", "\u3000", "b"}}, // only U+0020 joins a word,
		{"invalid-utf8", gpt2Split, "a\xff\xfeb", []string{"a", "\xff\xfe", "b"}},
	}
	for _, c := range cases {
		got := split(c.text, c.s)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: split(%q) = %q, want %q", c.name, c.text, got, c.want)
		}
	}
}

func TestParseBPERejects(t *testing.T) {
	good := func() map[string]any {
		var f map[string]any
		if err := json.Unmarshal(gpt2Style(t), &f); err != nil {
			t.Fatal(err)
		}
		return f
	}
	model := func(f map[string]any) map[string]any { return f["model"].(map[string]any) }
	cases := []struct {
		name   string
		edit   func(map[string]any)
		errHas string
	}{
		{"wordpiece", func(f map[string]any) { model(f)["type"] = "WordPiece" }, `model.type is "WordPiece"`},
		{"unigram", func(f map[string]any) { model(f)["type"] = "Unigram" }, `model.type is "Unigram"`},
		{"precompiled", func(f map[string]any) { f["normalizer"] = map[string]any{"type": "Precompiled"} }, `normalizer: type "Precompiled"`},
		{"lookbehind", func(f map[string]any) {
			f["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `(?<=a)b`}, "behavior": "Isolated"},
				map[string]any{"type": "ByteLevel", "use_regex": false}}}
		}, `pre_tokenizer.pretokenizers[0]: pattern "(?<=a)b"`},
		{"bytelevel-not-last", func(f map[string]any) {
			f["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "ByteLevel"}, map[string]any{"type": "Digits"}}}
		}, "ByteLevel must be the last"},
		{"bytelevel-with-fallback", func(f map[string]any) { model(f)["byte_fallback"] = true }, "byte_fallback"},
		{"suffix", func(f map[string]any) { model(f)["end_of_word_suffix"] = "</w>" }, "end_of_word_suffix"},
		{"unk-missing", func(f map[string]any) { model(f)["unk_token"] = "<unk>" }, `unk_token "<unk>"`},
		{"post-processor", func(f map[string]any) { f["post_processor"] = map[string]any{"type": "Magic"} }, `post_processor: type "Magic"`},
		{"decoder", func(f map[string]any) { f["decoder"] = map[string]any{"type": "WordPiece"} }, `decoder: type "WordPiece"`},
		{"bad-merge", func(f map[string]any) { model(f)["merges"] = []string{"x y"} }, `model.merges[0]`},
		{"missing-byte", func(f map[string]any) { delete(model(f)["vocab"].(map[string]any), "Ġ") }, "byte 0x20"},
	}
	for _, c := range cases {
		f := good()
		c.edit(f)
		raw, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ParseBPE(raw, nil, "x/tokenizer.json")
		if err == nil || !strings.Contains(err.Error(), c.errHas) || !strings.Contains(err.Error(), "x/tokenizer.json") {
			t.Errorf("%s: err = %v; want it to name the file and say %q", c.name, err, c.errHas)
		}
	}
}

func TestAddedTokenFlags(t *testing.T) {
	var f map[string]any
	if err := json.Unmarshal(gpt2Style(t), &f); err != nil {
		t.Fatal(err)
	}
	f["added_tokens"] = []map[string]any{
		{"id": 300, "content": "<mask>", "lstrip": true, "special": true},
		{"id": 301, "content": "ab", "single_word": true},
	}
	raw, _ := json.Marshal(f)
	tok, err := ParseBPE(raw, nil, "flags.json")
	if err != nil {
		t.Fatal(err)
	}
	// lstrip swallows the spaces before <mask>; single_word "ab" only matches standing alone.
	got := tok.Encode("x  <mask> ab cab")
	// Pieces: "x", [<mask>] with the two spaces, " ", [ab], " cab" (the "ab" inside "cab" is
	// not a single word) -> Ġ c a b.
	want := []int32{'x', 300, ' ', 301, ' ', 'c', 'a', 'b'}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
}

type encodeCase struct {
	text string
	want []int32
}

// checkEncode compares ids with hand-worked ones and checks that they decode back.
func checkEncode(t *testing.T, tok Tokenizer, cases []encodeCase) {
	t.Helper()
	for _, c := range cases {
		got := tok.Encode(c.text)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.want)
		}
		if back := tok.Decode(got); back != c.text {
			t.Errorf("Decode(Encode(%q)) = %q", c.text, back)
		}
	}
}

// BenchmarkBPEEncode measures encoding English-like text with the small test vocabulary
// (the cost is dominated by pre-tokenization and the merge loop, not by vocabulary size).
func BenchmarkBPEEncode(b *testing.B) {
	tok, err := ParseBPE(gpt2Style(b), nil, "gpt2.json")
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("hello the world, it's 12345 lll\n", 32)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tok.Encode(text)
	}
}

// BenchmarkBPELongRun measures the merge loop on one unbroken 50,000-byte piece (the heap
// path; a rescanning loop is quadratic here).
func BenchmarkBPELongRun(b *testing.B) {
	tok, err := ParseBPE(gpt2Style(b), nil, "gpt2.json")
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("l", 50000)
	b.SetBytes(int64(len(text)))
	for i := 0; i < b.N; i++ {
		tok.Encode(text)
	}
}
