package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/study"
	"github.com/ordermerge/ordermerge/tokenizer"
)

// `ordermerge base` prints the folder the study caches its base in: the one repro and the
// notebooks load, found without knowing its hash.
func TestBaseCommandPrintsTheCachedBase(t *testing.T) {
	cache := t.TempDir()
	cfg := study.QuickConfig()
	cfg.CacheDir = cache
	tok := tokenizer.ByteLevel()
	dir, err := study.BaseDir(context.Background(), cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dir, filepath.Join(cache, "base-")) {
		t.Fatalf("base folder %s is not in the cache %s", dir, cache)
	}
	// A cached base, as BaseModel leaves it (a model, its tokenizer and base.json).
	mc := cfg.Model.Clone()
	mc.VocabSize = tok.VocabSize()
	m, err := llama.New(mc, 1, llama.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(dir, llama.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	tokenizer.Save(dir, tok)
	os.WriteFile(filepath.Join(dir, "base.json"), []byte(`{"params": 1}`), 0o644)
	stdout, stderr, code := runCLI(t, "base", "--quick", "--cache", cache)
	if code != 0 || strings.TrimSpace(stdout) != dir || !strings.Contains(stderr, "base model from cache") {
		t.Fatalf("base: exit %d: %q %q", code, stdout, stderr)
	}
	if _, _, code := runCLI(t, "base", "extra"); code != 2 {
		t.Errorf("an argument: exit %d", code)
	}
	if got, err := resolveBase(context.Background(), "some/folder", nil); err != nil || got != "some/folder" {
		t.Errorf("a folder is kept: %q %v", got, err)
	}
}
