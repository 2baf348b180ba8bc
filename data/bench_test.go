package data

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// alpacaFile writes an Alpaca JSON array of n records (the published layout, one field per
// line) and returns its path.
func alpacaFile(b *testing.B, n int) string {
	b.Helper()
	var sb strings.Builder
	sb.WriteString("[\n")
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(",\n")
		}
		fmt.Fprintf(&sb, "    {\n        \"instruction\": \"Give three tips for staying healthy, number %d.\",\n        \"input\": \"\",\n        \"output\": \"1. Eat a balanced diet.\\n2. Exercise regularly.\\n3. Sleep well, night %d.\"\n    }", i, i)
	}
	sb.WriteString("\n]\n")
	p := filepath.Join(b.TempDir(), "alpaca_data.json")
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkLoadAlpacaArray measures the streaming loader on a 20,000-record Alpaca array
// (about 4 MB); BenchmarkPeerUnmarshalAlpacaArray is what a user would write instead, reading
// the whole file and decoding it with encoding/json, measured in the same run.
func BenchmarkLoadAlpacaArray(b *testing.B) {
	p := alpacaFile(b, 20000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d, err := Load(p); err != nil || d.Len() != 20000 {
			b.Fatal(err)
		}
	}
}

func BenchmarkPeerUnmarshalAlpacaArray(b *testing.B) {
	p := alpacaFile(b, 20000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		raw, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		var recs []struct{ Instruction, Input, Output string }
		if err := json.Unmarshal(raw, &recs); err != nil || len(recs) != 20000 {
			b.Fatal(err)
		}
	}
}
