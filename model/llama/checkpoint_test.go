package llama

import (
	"bytes"
	"github.com/ordermerge/ordermerge/compute/cpu"
	"github.com/ordermerge/ordermerge/internal/seeded"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, tie := range []bool{false, true} {
		cfg := tinyConfig(tie)
		m := mustNew(t, cfg, 7, nil)
		dir := filepath.Join(t.TempDir(), "ck")
		if err := m.Save(dir, SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		ck, err := tensor.OpenCheckpoint(dir)
		if err != nil {
			t.Fatal(err)
		}
		names := ck.Names()
		ck.Close()
		if hasHead := slices.Contains(names, "lm_head.weight"); hasHead == tie {
			t.Fatalf("tie=%v: lm_head.weight stored = %v", tie, hasHead)
		}
		for _, want := range []string{"model.embed_tokens.weight", "model.layers.1.self_attn.k_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.1.post_attention_layernorm.weight", "model.norm.weight"} {
			if !slices.Contains(names, want) {
				t.Fatalf("checkpoint lacks %s: %v", want, names)
			}
		}
		l, err := Load(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if l.Config().TieWordEmbeddings != tie || l.Config().TorchDType != "float32" {
			t.Fatalf("config after load: tie %v dtype %q", l.Config().TieWordEmbeddings, l.Config().TorchDType)
		}
		for i := range cpu.F32(m.data) {
			if cpu.F32(m.data)[i] != cpu.F32(l.data)[i] {
				t.Fatalf("value %d changed in the round trip", i)
			}
		}
		// Same model -> same bytes.
		dir2 := filepath.Join(t.TempDir(), "ck2")
		if err := l.Save(dir2, SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{tensor.SingleFile, tensor.ConfigFile} {
			a, _ := os.ReadFile(filepath.Join(dir, f))
			b, _ := os.ReadFile(filepath.Join(dir2, f))
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Fatalf("%s differs between two saves of the same model", f)
			}
		}
		// An existing folder is not replaced without Overwrite.
		if err := m.Save(dir, SaveOptions{}); err == nil || !strings.Contains(err.Error(), "exists") {
			t.Fatalf("saving over an existing folder: %v", err)
		}
		if err := m.Save(dir, SaveOptions{Overwrite: true}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSaveBF16AndShards(t *testing.T) {
	cfg := tinyConfig(false)
	m := mustNew(t, cfg, 8, nil)
	dir := filepath.Join(t.TempDir(), "bf16")
	if err := m.Save(dir, SaveOptions{DType: tensor.BF16, MaxShardSize: 3000}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, tensor.IndexFile)); err != nil {
		t.Fatalf("a small shard size should give a sharded checkpoint: %v", err)
	}
	l, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Config().TorchDType != "bfloat16" {
		t.Fatalf("torch_dtype %q, want bfloat16", l.Config().TorchDType)
	}
	for i, v := range cpu.F32(m.data) {
		if want := tensor.Float32FromBF16(tensor.BF16FromFloat32(v)); cpu.F32(l.data)[i] != want {
			t.Fatalf("value %d: %v after the bf16 round trip, want %v", i, cpu.F32(l.data)[i], want)
		}
	}
	if err := m.Save(filepath.Join(t.TempDir(), "x"), SaveOptions{DType: tensor.I32}); err == nil {
		t.Fatal("saving as I32 must fail")
	}
}

// writeHFCheckpoint writes a checkpoint the way transformers does (not through Save): a
// config.json with the keys LlamaConfig writes, tensors sorted by name in F16, the rotary
// inv_freq buffers older versions stored, and lm_head.weight even though it is tied.
func writeHFCheckpoint(t *testing.T, dir string, m *Model, extra map[string][]float32) {
	t.Helper()
	cfg := m.Config()
	cfg.TorchDType = "float16"
	for k, v := range map[string]any{"hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2, "rope_scaling": nil,
		"attention_bias": false, "attention_dropout": 0.0, "initializer_range": 0.02, "pretraining_tp": 1,
		"transformers_version": "4.40.0", "use_cache": true} {
		if err := cfg.SetExtra(k, v); err != nil {
			t.Fatal(err)
		}
	}
	var ts []*tensor.Tensor
	add := func(name string, shape []int, vals []float32) {
		tt, err := tensor.FromFloat32(name, shape, vals, tensor.F16)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tt)
	}
	for _, p := range m.Params() {
		add(p.Name, p.Shape, cpu.F32(p.Value))
	}
	for name, v := range extra {
		add(name, []int{len(v)}, v)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	if err := tensor.SaveCheckpoint(dir, cfg, ts, tensor.CheckpointOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestLoadHFCheckpoint(t *testing.T) {
	cfg := tinyConfig(true)
	m := mustNew(t, cfg, 9, nil)
	dir := filepath.Join(t.TempDir(), "hf")
	head := make([]float32, cfg.VocabSize*cfg.HiddenSize) // tied: ignored on load
	writeHFCheckpoint(t, dir, m, map[string][]float32{
		"model.layers.0.self_attn.rotary_emb.inv_freq": {1, 0.1},
		"lm_head.weight": head,
	})
	l, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range cpu.F32(m.data) {
		if want := tensor.Float32FromF16(tensor.F16FromFloat32(v)); cpu.F32(l.data)[i] != want {
			t.Fatalf("value %d: %v, want %v", i, cpu.F32(l.data)[i], want)
		}
	}
	if raw, ok := l.Config().Extra("bos_token_id"); !ok || string(raw) != "1" {
		t.Fatal("unknown config keys must survive loading")
	}
	b := randomBatch(seeded.New(1), 2, 6, cfg.VocabSize)
	if _, err := l.ForwardBackward(b, []float32{1, 1}); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrors(t *testing.T) {
	cfg := tinyConfig(false)
	m := mustNew(t, cfg, 9, nil)
	base := t.TempDir()
	// Unexpected tensor.
	d1 := filepath.Join(base, "extra")
	writeHFCheckpoint(t, d1, m, map[string][]float32{"model.layers.0.self_attn.q_proj.bias": make([]float32, 16)})
	if _, err := Load(d1, Options{}); err == nil || !strings.Contains(err.Error(), `unexpected tensor "model.layers.0.self_attn.q_proj.bias"`) {
		t.Errorf("unexpected tensor: %v", err)
	}
	// Missing tensor: the config says 3 layers, the checkpoint has 2.
	d2 := filepath.Join(base, "missing")
	writeHFCheckpoint(t, d2, m, nil)
	c3 := m.Config()
	c3.NumHiddenLayers = 3
	if err := tensor.WriteConfig(filepath.Join(d2, tensor.ConfigFile), c3); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(d2, Options{}); err == nil || !strings.Contains(err.Error(), "model.layers.2.input_layernorm.weight is missing") {
		t.Errorf("missing tensor: %v", err)
	}
	// Wrong shape: the config's intermediate size differs.
	c3.NumHiddenLayers, c3.IntermediateSize = 2, 20
	if err := tensor.WriteConfig(filepath.Join(d2, tensor.ConfigFile), c3); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(d2, Options{}); err == nil || !strings.Contains(err.Error(), "has shape [24 16], the config calls for [20 16]") {
		t.Errorf("wrong shape: %v", err)
	}
	// No config.json.
	os.Remove(filepath.Join(d2, tensor.ConfigFile))
	if _, err := Load(d2, Options{}); err == nil || !strings.Contains(err.Error(), "no config.json") {
		t.Errorf("no config: %v", err)
	}
	// LoadWeights needs no config and fills an existing model.
	fresh := mustNew(t, cfg, 1, nil)
	if err := fresh.LoadWeights(d2); err != nil {
		t.Fatal(err)
	}
	if cpu.F32(fresh.data)[5] != tensor.Float32FromF16(tensor.F16FromFloat32(cpu.F32(m.data)[5])) {
		t.Fatal("LoadWeights did not load the values")
	}
	if _, err := Load(filepath.Join(base, "nothing"), Options{}); err == nil {
		t.Error("loading a folder that does not exist must fail")
	}
}
