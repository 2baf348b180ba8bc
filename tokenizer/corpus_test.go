package tokenizer_test

import (
	"math/rand/v2"
	"strings"
)

// referenceCorpus is the text the reference tests encode with both implementations: every
// kind of input the issue names (prose, runs of spaces and newlines, long numbers, indented
// code, CJK, emoji, combining marks, text that hits byte fallback, the literal text of special
// tokens, the empty string) plus random mixtures of the same pieces.
func referenceCorpus() []string {
	fixed := []string{
		"",
		" ",
		"\n",
		"Hello world",
		"Hello  world",
		" Hello world ",
		"The quick brown fox jumps over the lazy dog. It wasn't the dog's fault; they'd said so, and I'M sure they'LL agree.",
		"In 1905, Einstein published four papers.\n\nEach changed physics: the photoelectric effect, Brownian motion, special relativity, and E = mc².",
		"a  b   c    d     e      f",
		"   leading and trailing   ",
		"line one\nline two\n\n\nline five\r\nwindows\r\n\ttabbed\t\tend",
		"  \n  \t\n \u00a0\u3000x\u2028y\u2029z",
		"1234567890123456789 3.14159265 1,000,000 -42 0x1F 1e-10 2024-12-03",
		"٣٤٥ ١٢٣ ０１２３ ①②③ Ⅻ ½",
		"def f(x):\n    if x > 0:\n        return x * 2\n    return -x\n\n\nclass A:\n\tpass\n",
		"func main() {\n\tfor i := 0; i < 10; i++ {\n\t\tfmt.Println(i)\n\t}\n}\n",
		"<html><body><p class=\"x\">Hi &amp; bye</p></body></html>",
		"https://example.com/path?q=a+b&x=%20#frag user@example.org",
		"你好，世界！这是一个测试。我们的模型在中文上表现如何？",
		"こんにちは世界。カタカナとひらがな、漢字。",
		"안녕하세요 세계",
		"Привет, мир! Съешь же ещё этих мягких французских булок.",
		"مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก", "Γειά σου Κόσμε",
		"😀 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ 🤖🧠",
		"e\u0301 cafe\u0301 A\u030a n\u0303 \u1100\u1161\u11a8 ﬁ ﬂ ﬃ Å ǅ ẞ ß",
		"𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ꙮ 𓀀 𐍈 \ue000 \U0010fffd",
		"\x00\x01\x07\x1b\x7f control",
		"<s>", "</s>", "<unk>", "<s>hello</s>", "a<s>b", " <s> x </s> ", "<s><s></s>",
		"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
		"<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
		"<bos><start_of_turn>user\nhello<end_of_turn>\n<start_of_turn>model\n",
		"[INST] hello [/INST] answer</s>",
		"<|endoftext|>x<|endoftext|>",
		"<think>\nreasoning\n</think>\n\nanswer",
		"<|im_start|> <|im_end|>  <|im_start|>",
		"<|eot_id|><|eot_id|>text<|eot_id|>",
		"don't DON'T it's IT'S we've WE'VE 'tis ' s",
		"!!! ??? ... --- *** ### $$$ %%% &&& ((( ))) \"\"\" ''' ```go\ncode\n```",
		"    indented with four\n        eight spaces\n",
		strings.Repeat("a", 1000),
		strings.Repeat("你好世界", 100),
		strings.Repeat(" ", 300) + "x",
		strings.Repeat("\n", 50),
		strings.Repeat("ab ", 200),
		strings.Repeat("1", 500),
		"▁ already has ▁ meta ▁▁ spaces",
		"Ġ Ċ ĉ (byte-level alphabet characters)",
	}
	r := rand.New(rand.NewPCG(11, 2024))
	pieces := []string{"a", "Z", "0", "99", "123456", " ", "  ", "   ", "\n", "\n\n", "\t", "\r\n", "'s", "'LL", "!", "?", ".", ",",
		"é", "e\u0301", "ß", "中", "文字", "😀", "👍🏽", "\u3000", "\u00a0", "٣", "ｆｕｌｌ", "ﬁ", "<s>", "</s>", "<|endoftext|>",
		"<|im_start|>", "<|eot_id|>", "<bos>", "hello", " the", "World", "don't", "::", "->", "{", "}", "    ", "𓀀", "Ğ", "\x7f"}
	for i := 0; i < 300; i++ {
		var sb strings.Builder
		for n := 1 + r.IntN(25); n > 0; n-- {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		fixed = append(fixed, sb.String())
	}
	return fixed
}
