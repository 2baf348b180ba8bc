package tokenizer_test

import (
	"fmt"
	"os"

	"github.com/ordermerge/ordermerge/tokenizer"
)

func ExampleByteLevel() {
	tok := tokenizer.ByteLevel()
	ids := tok.Encode("hi ✓")
	eos, _ := tok.Special(tokenizer.EOS)
	fmt.Println(ids, eos, tok.VocabSize())
	fmt.Printf("%q\n", tok.Decode(append(ids, eos)))
	// Output:
	// [104 105 32 226 156 147] 257 262
	// "hi ✓<|eos|>"
}

func ExampleSave() {
	dir, _ := os.MkdirTemp("", "ckpt")
	defer os.RemoveAll(dir)
	if err := tokenizer.Save(dir, tokenizer.ByteLevel()); err != nil {
		fmt.Println(err)
		return
	}
	tok, err := tokenizer.Load(dir)
	fmt.Printf("%T %v\n", tok, err)
	// Output: *tokenizer.Bytes <nil>
}
