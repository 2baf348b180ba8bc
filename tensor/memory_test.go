package tensor

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// llama3_8B is Llama-3-8B's config.json, as Meta publishes it (sizes only).
func llama3_8B() *Config {
	c := NewLlamaConfig(4096, 14336, 32, 32, 8, 128256, 8192)
	c.RopeTheta = 500000
	c.RMSNormEps = 1e-5
	return c
}

func TestLlamaParamCountMatchesThePublishedSizes(t *testing.T) {
	// Llama-3-8B: 8,030,261,248 parameters (untied embeddings), as transformers counts them.
	n, err := LlamaParamCount(llama3_8B())
	if err != nil || n != 8030261248 {
		t.Fatalf("Llama-3-8B: %d parameters, %v", n, err)
	}
	huge := llama3_8B()
	huge.NumHiddenLayers = 1 << 30
	if _, err := LlamaParamCount(huge); err == nil || !strings.Contains(err.Error(), "more than any machine holds") {
		t.Fatalf("2^30 layers: %v", err)
	}
	wide := llama3_8B()
	wide.HiddenSize, wide.NumAttentionHeads, wide.NumKeyValueHeads, wide.VocabSize = 1<<40, 1<<20, 1<<20, 1<<40
	if _, err := LlamaParamCount(wide); err == nil || !strings.Contains(err.Error(), "too many elements") {
		t.Fatalf("overflowing sizes: %v", err)
	}
}

// A Llama-3-8B config.json beside the tensors of a tiny model is found out from the headers.
func TestCheckLlamaShapesNamesTheFirstMismatch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ck")
	tiny := NewLlamaConfig(8, 16, 1, 2, 2, 32, 64)
	specs, err := LlamaSpecs(tiny)
	if err != nil {
		t.Fatal(err)
	}
	var ts []*Tensor
	for _, s := range specs {
		n, _ := Numel(s.Shape)
		x, _ := NewF32(s.Name, s.Shape, make([]float32, n))
		ts = append(ts, x)
	}
	if err := SaveCheckpoint(dir, llama3_8B(), ts, CheckpointOptions{}); err != nil {
		t.Fatal(err)
	}
	ck, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	err = CheckLlamaShapes(ck, nil)
	want := dir + ": config.json does not describe these tensors: model.embed_tokens.weight has shape [32 8], the config calls for [128256 4096] (config: hidden_size 4096, intermediate_size 14336, num_hidden_layers 32, num_attention_heads 32, num_key_value_heads 8, vocab_size 128256)"
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if err := CheckLlamaShapes(ck, tiny); err != nil {
		t.Fatalf("the right config: %v", err)
	}
	two := tiny.Clone()
	two.NumHiddenLayers = 2
	if err := CheckLlamaShapes(ck, two); err == nil || !strings.Contains(err.Error(), "model.layers.1.input_layernorm.weight is missing") || !strings.Contains(err.Error(), "the checkpoint has 1 layers") {
		t.Fatalf("one layer too many: %v", err)
	}
}

func TestCheckMemoryListsTheItems(t *testing.T) {
	items := []MemoryItem{{"parameters", 3 << 30}, {"gradients", 3 << 30}, {"activations", 0}}
	if err := CheckMemory("host memory", "train", 6<<30, items); err != nil {
		t.Fatal(err)
	}
	err := CheckMemory("host memory", "train", 5<<30, items)
	want := "not enough host memory to train: it needs at least 6.0 GiB (parameters 3.0 GiB, gradients 3.0 GiB) but 5.0 GiB is available"
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if MemoryBytes(1e30, 4) != math.MaxInt64 || MemoryTotal([]MemoryItem{{"a", math.MaxInt64}, {"b", 1}}) != math.MaxInt64 {
		t.Fatal("sizes overflow instead of saturating")
	}
	if err := CheckMemory("host memory", "train", 1<<30, []MemoryItem{{"parameters", math.MaxInt64}}); err == nil || !strings.Contains(err.Error(), "more than 8 EiB") {
		t.Fatalf("saturated: %v", err)
	}
}

func TestHostMemoryAvailableReadsTheSystem(t *testing.T) {
	if _, err := os.Stat("/proc/meminfo"); err != nil {
		t.Skip("no /proc/meminfo")
	}
	avail, err := HostMemoryAvailable()
	if err != nil || avail <= 0 {
		t.Fatalf("available %d, %v", avail, err)
	}
	path := filepath.Join(t.TempDir(), "meminfo")
	os.WriteFile(path, []byte("MemTotal:       24683664 kB\nMemFree:        22672552 kB\nMemAvailable:   24244324 kB\n"), 0o644)
	if v, err := meminfoAvailable(path); err != nil || v != 24244324*1024 {
		t.Fatalf("meminfo: %d, %v", v, err)
	}
	// The host's memory bounds what any estimate can get.
	err = CheckHostMemory("train", func() ([]MemoryItem, error) { return []MemoryItem{{"parameters", math.MaxInt64}}, nil })
	if err == nil || !strings.HasPrefix(err.Error(), "not enough host memory to train") {
		t.Fatalf("an estimate beyond any host: %v", err)
	}
}
