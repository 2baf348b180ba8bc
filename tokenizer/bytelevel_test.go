package tokenizer

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestByteLevel(t *testing.T) {
	tok := ByteLevel()
	if got := tok.Encode("a é"); !reflect.DeepEqual(got, []int32{'a', ' ', 0xc3, 0xa9}) {
		t.Errorf("Encode = %v", got)
	}
	// A literal marker in the text stays bytes: user text cannot forge a role token.
	if got := tok.Encode("<|eos|>"); len(got) != 7 {
		t.Errorf("Encode(<|eos|>) = %v, want 7 byte ids", got)
	}
	if got := tok.Decode([]int32{ByteBOS, 'h', 'i', ByteEOS, 999}); got != "<|bos|>hi<|eos|><|unk:999|>" {
		t.Errorf("Decode = %q", got)
	}
	for name, want := range map[string]int32{BOS: 256, EOS: 257, PAD: 258, System: 259, User: 260, Assistant: 261, "<|user|>": 260} {
		if id, ok := tok.Special(name); !ok || id != want {
			t.Errorf("Special(%q) = %d, %v; want %d", name, id, ok, want)
		}
	}
	if _, ok := tok.Special("<|eot_id|>"); ok {
		t.Error("Special found a token the byte-level tokenizer does not have")
	}
	if tok.VocabSize() != 262 {
		t.Errorf("VocabSize = %d", tok.VocabSize())
	}
}

// randomText draws strings mixing ASCII, multi-byte runes, spaces and, unless valid is set,
// stray bytes that are not UTF-8.
func randomText(r *rand.Rand, valid bool) string {
	alphabet := []string{"a", "Z", "0", "9", " ", "  ", "\n", "\t", "'s", "'LL", "!", "é", "ß", "中", "😀", "\u3000", "٣", "<|endoftext|>", "hello", " the"}
	var sb strings.Builder
	for n := r.IntN(30); n > 0; n-- {
		if !valid && r.IntN(8) == 0 {
			sb.WriteByte(byte(0x80 + r.IntN(0x80)))
			continue
		}
		sb.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return sb.String()
}

func TestRoundTripProperty(t *testing.T) {
	bpe, err := ParseBPE(gpt2Style(t), nil, "gpt2.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, cfg := llama3Style(t)
	l3, err := ParseBPE(raw, cfg, "llama3.json")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		s := randomText(r, i%2 == 0)
		for name, tok := range map[string]Tokenizer{"bytes": ByteLevel(), "gpt2": bpe, "llama3": l3} {
			// Hugging Face's byte-level decoder writes invalid UTF-8 as U+FFFD; the byte-level
			// tokenizer gives back the bytes themselves.
			want := s
			if name != "bytes" {
				want = lossyUTF8([]byte(s))
			}
			if got := tok.Decode(tok.Encode(s)); got != want {
				t.Fatalf("%s: Decode(Encode(%q)) = %q, want %q", name, s, got, want)
			}
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "hello the world", "it's 12345\n\n x", "\xff\xfe", "<|endoftext|> a", "中文 😀"} {
		f.Add(s)
	}
	bpe, err := ParseBPE(gpt2Style(f), nil, "gpt2.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := ByteLevel().Decode(ByteLevel().Encode(s)); got != s {
			t.Fatalf("bytes: round trip of %q gave %q", s, got)
		}
		ids := bpe.Encode(s)
		if got := bpe.Decode(ids); got != lossyUTF8([]byte(s)) {
			t.Fatalf("bpe: round trip of %q gave %q", s, got)
		}
		if utf8.ValidString(s) && len(ids) > len(s) {
			t.Fatalf("bpe: %d ids for %d bytes", len(ids), len(s))
		}
	})
}

func TestSaveLoadByteLevel(t *testing.T) {
	dir := t.TempDir()
	if err := Save(dir, ByteLevel()); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"content": "<|assistant|>"`) || !strings.Contains(string(raw), `"Ġ": 32`) {
		t.Errorf("tokenizer.json lacks the expected entries:\n%s", raw)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.(*Bytes); !ok {
		t.Fatalf("Load returned %T, want *Bytes", got)
	}
	// The same file read as plain BPE encodes exactly as ByteLevel does (outside markers).
	cfg, _ := os.ReadFile(filepath.Join(dir, ConfigFileName))
	asBPE, err := ParseBPE(raw, cfg, "saved")
	if err != nil {
		t.Fatal(err)
	}
	s := "Pipe: square each, sum.\n#### 14 é"
	if a, b := asBPE.Encode(s), ByteLevel().Encode(s); !reflect.DeepEqual(a, b) {
		t.Errorf("saved file as BPE encodes %v, ByteLevel %v", a, b)
	}
	for _, name := range []string{BOS, EOS, PAD} {
		a, _ := asBPE.Special(name)
		b, _ := ByteLevel().Special(name)
		if a != b {
			t.Errorf("Special(%s): file says %d, ByteLevel %d", name, a, b)
		}
	}
	// Saving twice gives the same bytes (checkpoints are compared bytewise).
	dir2 := t.TempDir()
	if err := Save(dir2, ByteLevel()); err != nil {
		t.Fatal(err)
	}
	raw2, _ := os.ReadFile(filepath.Join(dir2, FileName))
	if string(raw) != string(raw2) {
		t.Error("two saves differ")
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestSaveLoadBPE(t *testing.T) {
	src := t.TempDir()
	raw, cfg := llama3Style(t)
	if err := os.WriteFile(filepath.Join(src, FileName), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, ConfigFileName), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := Load(filepath.Join(src, FileName))
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := Save(dst, tok); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := back.(*BPE); !ok {
		t.Fatalf("Load returned %T, want *BPE", back)
	}
	if id, _ := back.Special(EOS); id != 401 {
		t.Errorf("EOS after save/load = %d, want 401 (config must travel)", id)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Load of a missing path succeeded")
	}
}
