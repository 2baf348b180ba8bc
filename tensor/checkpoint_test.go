package tensor

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testTensors(t *testing.T) []*Tensor {
	t.Helper()
	var out []*Tensor
	for i, dt := range []DType{F32, F16, BF16, F32} {
		vals := make([]float32, 6*(i+1))
		for j := range vals {
			vals[j] = float32(j)*0.25 - 1
		}
		tt, err := FromFloat32("model.layers."+string(rune('0'+i))+".w", []int{i + 1, 6}, vals, dt)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tt)
	}
	return out
}

func TestCheckpointRoundTripSingleAndSharded(t *testing.T) {
	for _, shard := range []int64{0, 40} {
		dir := filepath.Join(t.TempDir(), "ckpt")
		ts := testTensors(t)
		cfg := NewLlamaConfig(64, 128, 2, 4, 2, 300, 128)
		if err := cfg.SetExtra("bos_token_id", 1); err != nil {
			t.Fatal(err)
		}
		if err := SaveCheckpoint(dir, cfg, ts, CheckpointOptions{MaxShardSize: shard}); err != nil {
			t.Fatal(err)
		}
		_, errSingle := os.Stat(filepath.Join(dir, SingleFile))
		_, errIndex := os.Stat(filepath.Join(dir, IndexFile))
		if (shard == 0) != (errSingle == nil) || (shard == 0) == (errIndex == nil) {
			t.Fatalf("shard=%d: single file present=%v index present=%v", shard, errSingle == nil, errIndex == nil)
		}
		c, err := OpenCheckpoint(dir)
		if err != nil {
			t.Fatal(err)
		}
		if shard > 0 && len(c.Files()) < 2 {
			t.Fatalf("expected several shards, got %v", c.Files())
		}
		if got, want := strings.Join(c.Names(), ","), names(ts); got != want {
			t.Fatalf("names %s, want %s", got, want)
		}
		for _, want := range ts {
			got, err := c.ReadTensor(want.Name)
			if err != nil {
				t.Fatal(err)
			}
			if got.DType != want.DType || FormatShape(got.Shape) != FormatShape(want.Shape) || !bytes.Equal(got.Data, want.Data) {
				t.Fatalf("tensor %s differs after round trip", want.Name)
			}
		}
		if c.Config == nil || c.Config.HiddenSize != 64 || c.Config.NumKeyValueHeads != 2 {
			t.Fatalf("config not read back: %+v", c.Config)
		}
		if raw, ok := c.Config.Extra("bos_token_id"); !ok || string(raw) != "1" {
			t.Fatalf("unknown key not preserved: %s", raw)
		}
		c.Close()
	}
}

func names(ts []*Tensor) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.Name)
	}
	return strings.Join(s, ",")
}

func TestCheckpointExistingNotDamaged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	ts := testTensors(t)
	if err := SaveCheckpoint(dir, nil, ts, CheckpointOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := SaveCheckpoint(dir, nil, ts[:1], CheckpointOptions{}); err == nil {
		t.Fatal("overwrote an existing checkpoint without Overwrite")
	}
	// A failed write (a tensor never written) leaves the old checkpoint and no temp folder.
	w, err := CreateCheckpoint(dir, []Spec{SpecOf(ts[0]), SpecOf(ts[1])}, CheckpointOptions{Overwrite: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor(ts[0].Name, ts[0].Data); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err == nil || !strings.Contains(err.Error(), ts[1].Name) {
		t.Fatalf("commit of an incomplete checkpoint: %v", err)
	}
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Names()) != len(ts) {
		t.Fatalf("old checkpoint damaged: %v", c.Names())
	}
	c.Close()
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	// Overwrite replaces it once complete.
	if err := SaveCheckpoint(dir, nil, ts[:2], CheckpointOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	c, err = OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(c.Names()) != 2 {
		t.Fatalf("overwrite: %v", c.Names())
	}
}

func TestCheckpointBadIndex(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	if err := SaveCheckpoint(dir, nil, testTensors(t), CheckpointOptions{MaxShardSize: 40}); err != nil {
		t.Fatal(err)
	}
	shard := filepath.Join(dir, "model-00002-of-00004.safetensors")
	if err := os.Remove(shard); err != nil {
		t.Fatal(err)
	}
	_, err := OpenCheckpoint(dir)
	if err == nil || !strings.Contains(err.Error(), "model-00002-of-00004.safetensors") || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing shard: %v", err)
	}
}

// A config that is not a Llama one keeps its own keys: rewriting adds no typed key it lacked.
func TestConfigRewriteKeepsForeignConfigs(t *testing.T) {
	var c Config
	if err := json.Unmarshal([]byte(`{"model_type": "mlp", "hidden_dims": [4, 4], "vocab_size": 0}`), &c); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 3 || back["model_type"] != "mlp" || back["vocab_size"] != 0.0 || back["hidden_dims"] == nil {
		t.Fatalf("rewritten as %s", b)
	}
	c.HiddenSize = 8 // a typed key set after reading is written
	b, _ = json.Marshal(&c)
	if !strings.Contains(string(b), `"hidden_size":8`) {
		t.Fatalf("set key lost: %s", b)
	}
}
