package tokenizer

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// sentencePieceStyle builds a small file in the layout transformers writes for Llama 2 and
// Mistral 7B: Prepend/Replace normalizer, no pre-tokenizer, byte fallback, fuse_unk, the
// Replace/ByteFallback/Fuse/Strip decoder and a TemplateProcessing that adds <s>.
func sentencePieceStyle(t testing.TB) []byte {
	t.Helper()
	vocab := map[string]int32{"<unk>": 0, "<s>": 1, "</s>": 2}
	for b := 0; b < 256; b++ {
		vocab[byteTokenName(b)] = int32(3 + b)
	}
	next := int32(259)
	for _, s := range []string{"▁", "h", "e", "l", "o", "w", "r", "d", "▁h", "he", "ll", "▁he", "▁hell", "▁hello", "▁w", "or", "▁wor", "▁world", "é"} {
		vocab[s] = next
		next++
	}
	merges := []string{"▁ h", "h e", "l l", "▁h e", "▁he ll", "▁hell o", "▁ w", "o r", "▁w or", "▁wor l", "▁worl d"}
	vocab["▁worl"] = next
	f := map[string]any{
		"added_tokens": []map[string]any{
			{"id": 0, "content": "<unk>", "special": true}, {"id": 1, "content": "<s>", "special": true}, {"id": 2, "content": "</s>", "special": true},
		},
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": "▁"},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"},
		}},
		"pre_tokenizer": nil,
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
			"special_tokens": map[string]any{"<s>": map[string]any{"id": "<s>", "ids": []int{1}, "tokens": []string{"<s>"}}}},
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
			map[string]any{"type": "ByteFallback"}, map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0},
		}},
		"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": merges, "unk_token": "<unk>", "byte_fallback": true, "fuse_unk": true},
	}
	raw, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func byteTokenName(b int) string {
	return "<0x" + strings.ToUpper(string("0123456789abcdef"[b>>4])+string("0123456789abcdef"[b&15])) + ">"
}

func TestSentencePieceHandWorkedIDs(t *testing.T) {
	tok, err := ParseBPE(sentencePieceStyle(t), []byte(`{"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}`), "sp.json")
	if err != nil {
		t.Fatal(err)
	}
	id := func(s string) int32 { return tok.vocab[s] }
	cases := []struct {
		text string
		want []int32
	}{
		// "hello world" -> "▁hello▁world"; merges build ▁hello and ▁world (▁wor l, then ▁worl d).
		{"hello world", []int32{id("▁hello"), id("▁world")}},
		// "é" is a vocab character; "ß" (c3 9f) is not: byte fallback gives <0xC3> <0x9F>.
		{"é ß", []int32{id("▁"), id("é"), id("▁"), 3 + 0xc3, 3 + 0x9f}},
		// Special tokens are cut out first; each stretch gets its own "▁" prefix.
		{"he<s>he", []int32{id("▁he"), 1, id("▁he")}},
		{"", nil},
	}
	for _, c := range cases {
		if got := tok.Encode(c.text); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.want)
		}
	}
	if got := tok.EncodeSpecial("hello"); !reflect.DeepEqual(got, []int32{1, id("▁hello")}) {
		t.Errorf("EncodeSpecial = %v, want <s> ▁hello", got)
	}
	// Decode: ▁ back to spaces, byte tokens to bytes, the leading space stripped.
	if got := tok.Decode(tok.Encode("hello world é ß")); got != "hello world é ß" {
		t.Errorf("round trip = %q", got)
	}
	// An incomplete UTF-8 sequence of byte tokens decodes to one U+FFFD per byte.
	if got := tok.Decode([]int32{id("▁he"), 3 + 0xe4, 3 + 0xbd}); got != "he\uFFFD\uFFFD" {
		t.Errorf("Decode of a truncated character = %q", got)
	}
	for name, want := range map[string]int32{BOS: 1, EOS: 2, UNK: 0} {
		if got, ok := tok.Special(name); !ok || got != want {
			t.Errorf("Special(%s) = %d, %v", name, got, ok)
		}
	}
	if c, _ := tok.SpecialContent(BOS); c != "<s>" {
		t.Errorf("SpecialContent(bos) = %q", c)
	}
}

func TestUnknownWithoutByteFallback(t *testing.T) {
	var f map[string]any
	if err := json.Unmarshal(sentencePieceStyle(t), &f); err != nil {
		t.Fatal(err)
	}
	f["model"].(map[string]any)["byte_fallback"] = false
	raw, _ := json.Marshal(f)
	tok, err := ParseBPE(raw, nil, "unk.json")
	if err != nil {
		t.Fatal(err)
	}
	// "ßß" is two unknown characters: fuse_unk makes them one <unk>.
	if got := tok.Encode("ßß"); !reflect.DeepEqual(got, []int32{tok.vocab["▁"], 0}) {
		t.Errorf("Encode(ßß) = %v, want ▁ <unk>", got)
	}
	f["model"].(map[string]any)["fuse_unk"] = false
	raw, _ = json.Marshal(f)
	tok, _ = ParseBPE(raw, nil, "unk.json")
	if got := tok.Encode("ßß"); !reflect.DeepEqual(got, []int32{tok.vocab["▁"], 0, 0}) {
		t.Errorf("Encode(ßß) without fuse_unk = %v, want ▁ <unk> <unk>", got)
	}
}

func TestConfigNullBOS(t *testing.T) {
	raw, _ := llama3Style(t)
	// Qwen's config: "bos_token": null. No BOS is bound, although the file has <|begin_of_text|>.
	tok, err := ParseBPE(raw, []byte(`{"bos_token": null, "eos_token": "<|eot_id|>"}`), "qwen-like.json")
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := tok.Special(BOS); ok {
		t.Errorf("Special(bos) = %d; the config says there is none", id)
	}
	if id, ok := tok.Special(EOS); !ok || id != 401 {
		t.Errorf("Special(eos) = %d, %v", id, ok)
	}
	if _, err := ParseBPE(raw, []byte(`{"bos_token": "<nope>"}`), "bad.json"); err == nil || !strings.Contains(err.Error(), `bos_token "<nope>" is not a token`) {
		t.Errorf("unknown bos_token: err = %v", err)
	}
}

func TestLossyUTF8(t *testing.T) {
	cases := map[string]string{
		"ok é":             "ok é",
		"\xff\xfe":         "\uFFFD\uFFFD",       // two bytes that start nothing
		"\xe2\x82":         "\uFFFD",             // a truncated 3-byte sequence is one maximal subpart
		"\xf0\x9f\x98":     "\uFFFD",             // a truncated 4-byte sequence likewise
		"\xed\xa0\x80":     "\uFFFD\uFFFD\uFFFD", // a surrogate: ED is not followed by A0..BF
		"a\xe2\x82b\xc3":   "a\uFFFDb\uFFFD",
		"\xe0\x80\x80":     "\uFFFD\uFFFD\uFFFD", // overlong: E0 must be followed by A0..BF
		"\xf4\x90\x80\x80": "\uFFFD\uFFFD\uFFFD\uFFFD",
	}
	for in, want := range cases {
		if got := lossyUTF8([]byte(in)); got != want {
			t.Errorf("lossyUTF8(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHeapMergeMatchesScan checks the O(n log n) merge loop against the rescanning one (the
// direct statement of the BPE rule) on random rows and random merge tables.
func TestHeapMergeMatchesScan(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 300; trial++ {
		alphabet := 2 + r.IntN(4)
		table := newMergeTable(64)
		next := int32(alphabet)
		for k := 0; k < 40; k++ {
			a, b := int32(r.IntN(int(next))), int32(r.IntN(int(next)))
			table.put(a, b, merge{rank: int32(r.IntN(1000)), id: next})
			next++
		}
		row := make([]int32, 1+r.IntN(400))
		for i := range row {
			row[i] = int32(r.IntN(alphabet))
		}
		want := mergeByScan(table, append([]int32(nil), row...))
		got := mergeByHeap(table, append([]int32(nil), row...))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("trial %d: heap %v, scan %v (row %v)", trial, got, want, row)
		}
	}
}

// TestGeneralRegexMatchesFastSplitters runs the published patterns through the general regex
// engine and through their hand-written matchers on random text.
func TestGeneralRegexMatchesFastSplitters(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, pat := range []string{gpt2Pattern, llama3Pattern, qwen2Pattern} {
		re, err := compilePattern(pat)
		if err != nil {
			t.Fatal(err)
		}
		fast := fastSplitter(pat)
		for i := 0; i < 2000; i++ {
			s := randomText(r, true)
			var want [][2]int
			for j := 0; j < len(s); {
				k := fast(s, j)
				want = append(want, [2]int{j, k})
				j = k
			}
			if got := re.findAll(s, nil); !reflect.DeepEqual(got, want) {
				t.Fatalf("%.20s...: findAll(%q) = %v, hand-written %v", pat, s, got, want)
			}
		}
	}
}

func TestRegexConstructs(t *testing.T) {
	cases := []struct {
		pattern, text string
		want          []string
	}{
		{`a+?b`, "aaab", []string{"aaab"}},
		{`\d{2,3}`, "12345", []string{"123", "45"}},
		{`[^\s\p{L}]+`, "ab,.;cd 12", []string{",.;", "12"}},
		{`(?i:ab)`, "AbaBx", []string{"Ab", "aB"}},
		{`\s+(?!\S)|\s+`, "a   b  ", []string{"  ", " ", "  "}},
		{`x(?=y)`, "xyxz", []string{"x"}},
		{`[a-c]++c`, "abcc", nil}, // possessive: gives nothing back
		{`\p{Han}+|\p{Hiragana}+`, "漢字かな", []string{"漢字", "かな"}},
		{`[\x{4e00}-\x{9fa5}]`, "中a", []string{"中"}},
		{`^\w+$`, "word", []string{"word"}},
	}
	for _, c := range cases {
		re, err := compilePattern(c.pattern)
		if err != nil {
			t.Errorf("%s: %v", c.pattern, err)
			continue
		}
		var got []string
		for _, sp := range re.findAll(c.text, nil) {
			got = append(got, c.text[sp[0]:sp[1]])
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s on %q: %q, want %q", c.pattern, c.text, got, c.want)
		}
	}
	for _, bad := range []string{`(?<=a)b`, `[a-`, `(ab`, `\k<x>`, `*a`, `\p{NoSuchClass}`} {
		if _, err := compilePattern(bad); err == nil {
			t.Errorf("%s compiled; want an error naming the construct", bad)
		}
	}
}
