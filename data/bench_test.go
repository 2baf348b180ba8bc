package data

import (
	"testing"

	"github.com/ordermerge/ordermerge/tokenizer"
)

// BenchmarkEmbedded measures generating all five embedded datasets, which every process does
// on demand instead of shipping files: it must stay a few milliseconds.
func BenchmarkEmbedded(b *testing.B) {
	for i := 0; i < b.N; i++ {
		for _, name := range EmbeddedNames() {
			if _, err := Embedded(name); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkEncodeCode measures templating and tokenizing the largest embedded train split.
func BenchmarkEncodeCode(b *testing.B) {
	task, err := Embedded("code")
	if err != nil {
		b.Fatal(err)
	}
	tok := tokenizer.ByteLevel()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := task.Train.Encode(tok, EncodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
