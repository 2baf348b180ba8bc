package tokenizer

import (
	"strconv"
	"strings"
)

// Ids of the special tokens of the byte-level tokenizer, right after the 256 byte ids. They are
// part of the checkpoint format (a model trained with them expects these ids), so they never
// change.
const (
	ByteBOS       int32 = 256
	ByteEOS       int32 = 257
	BytePAD       int32 = 258
	ByteSystem    int32 = 259
	ByteUser      int32 = 260
	ByteAssistant int32 = 261
	byteVocabSize       = 262
)

// byteSpecials lists the special tokens of the byte-level tokenizer in id order, with the role
// name Special accepts for each.
var byteSpecials = [...]struct{ name, content string }{
	{BOS, "<|bos|>"},
	{EOS, "<|eos|>"},
	{PAD, "<|pad|>"},
	{System, "<|system|>"},
	{User, "<|user|>"},
	{Assistant, "<|assistant|>"},
}

// Bytes is the byte-level tokenizer: the id of a byte is its value, and ids 256-261 are BOS,
// EOS, PAD, and the system/user/assistant role markers. Text is never scanned for special
// tokens, so Decode(Encode(s)) == s for every string, valid UTF-8 or not.
type Bytes struct{}

// ByteLevel returns the byte-level tokenizer, the project's default.
func ByteLevel() *Bytes { return &Bytes{} }

// Encode returns one id per byte of text.
func (*Bytes) Encode(text string) []int32 {
	ids := make([]int32, len(text))
	for i := 0; i < len(text); i++ {
		ids[i] = int32(text[i])
	}
	return ids
}

// Decode writes byte ids as bytes and special ids as their content ("<|eos|>").
func (*Bytes) Decode(ids []int32) string {
	var sb strings.Builder
	sb.Grow(len(ids))
	for _, id := range ids {
		switch {
		case id >= 0 && id < 256:
			sb.WriteByte(byte(id))
		case id >= 256 && id < byteVocabSize:
			sb.WriteString(byteSpecials[id-256].content)
		default:
			sb.WriteString(unknownToken(id))
		}
	}
	return sb.String()
}

// VocabSize is 262: 256 bytes and six special tokens.
func (*Bytes) VocabSize() int { return byteVocabSize }

// Special accepts the role names (BOS, EOS, ...) and the contents ("<|eos|>", ...).
func (*Bytes) Special(name string) (int32, bool) {
	for i, s := range byteSpecials {
		if name == s.name || name == s.content {
			return 256 + int32(i), true
		}
	}
	return 0, false
}

func unknownToken(id int32) string {
	return "<|unk:" + strconv.Itoa(int(id)) + "|>"
}
