package llama

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

// llama3_8B is Llama-3-8B's config.json, as Meta publishes it (sizes only).
func llama3_8B() *tensor.Config {
	c := tensor.NewLlamaConfig(4096, 14336, 32, 32, 8, 128256, 8192)
	c.RopeTheta = 500000
	c.RMSNormEps = 1e-5
	return c
}

func TestParamCountMatchesThePublishedSizes(t *testing.T) {
	// Llama-3-8B: 8,030,261,248 parameters (untied embeddings), as transformers counts them.
	n, err := ParamCount(llama3_8B())
	if err != nil || n != 8030261248 {
		t.Fatalf("Llama-3-8B: %d parameters, %v", n, err)
	}
	huge := llama3_8B()
	huge.NumHiddenLayers = 1 << 30
	if _, err := ParamCount(huge); err == nil || !strings.Contains(err.Error(), "more than any machine holds") {
		t.Fatalf("2^30 layers: %v", err)
	}
	wide := llama3_8B()
	wide.HiddenSize, wide.NumAttentionHeads, wide.NumKeyValueHeads, wide.VocabSize = 1<<40, 1<<20, 1<<20, 1<<40
	if _, err := ParamCount(wide); err == nil || !strings.Contains(err.Error(), "too many elements") {
		t.Fatalf("overflowing sizes: %v", err)
	}
}

// A Llama-3-8B config.json beside the tensors of a tiny model is found out from the headers,
// and Load refuses it before allocating the 8B model.
func TestCheckCheckpointNamesTheFirstMismatch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ck")
	tiny := tensor.NewLlamaConfig(8, 16, 1, 2, 2, 32, 64)
	var ts []*tensor.Tensor
	for _, s := range paramSpecs(tiny) {
		n, _ := tensor.Numel(s.shape)
		x, _ := tensor.NewF32(s.name, s.shape, make([]float32, n))
		ts = append(ts, x)
	}
	if err := tensor.SaveCheckpoint(dir, llama3_8B(), ts, tensor.CheckpointOptions{}); err != nil {
		t.Fatal(err)
	}
	ck, err := tensor.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	err = CheckCheckpoint(ck, nil)
	want := dir + ": config.json does not describe these tensors: model.embed_tokens.weight has shape [32 8], the config calls for [128256 4096] (config: hidden_size 4096, intermediate_size 14336, num_hidden_layers 32, num_attention_heads 32, num_key_value_heads 8, vocab_size 128256)"
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if err := CheckCheckpoint(ck, tiny); err != nil {
		t.Fatalf("the right config: %v", err)
	}
	two := tiny.Clone()
	two.NumHiddenLayers = 2
	if err := CheckCheckpoint(ck, two); err == nil || !strings.Contains(err.Error(), "model.layers.1.input_layernorm.weight is missing") || !strings.Contains(err.Error(), "the checkpoint has 1 layers") {
		t.Fatalf("one layer too many: %v", err)
	}
	qwen := tiny.Clone()
	qwen.ModelType = "qwen2"
	if err := CheckCheckpoint(ck, qwen); err == nil || !strings.Contains(err.Error(), "self_attn.q_proj.bias is missing") {
		t.Fatalf("a qwen2 config beside llama tensors: %v", err)
	}
	if _, err := Load(dir, Options{}); err == nil || !strings.Contains(err.Error(), "config calls for [128256 4096]") {
		t.Fatalf("Load: %v", err)
	}
}
