package merge

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

// writeAdapter writes a PEFT adapter folder: adapter_config.json with cfg and
// adapter_model.safetensors with the given lora_A/lora_B tensors (PEFT's names).
func writeAdapter(t *testing.T, dir string, cfg map[string]any, mats map[string][]float32, shapes map[string][]int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "adapter_config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var ts []*tensor.Tensor
	for name, v := range mats {
		x, err := tensor.NewF32(name, shapes[name], v)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, x)
	}
	w, err := tensor.CreateCheckpoint(filepath.Join(dir, "ad"), specsOf(ts), tensor.CheckpointOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ts {
		if err := w.WriteTensor(x.Name, x.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "ad", "model.safetensors"), filepath.Join(dir, "adapter_model.safetensors")); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(dir, "ad"))
}

func specsOf(ts []*tensor.Tensor) []tensor.Spec {
	out := make([]tensor.Spec, len(ts))
	for i, x := range ts {
		out[i] = tensor.Spec{Name: x.Name, DType: x.DType, Shape: x.Shape}
	}
	return out
}

// TestLoRAReference merges MODEL+ADAPTER references and checks every adapted weight against
// W + (alpha/r) B A computed here by hand, in the normal layout and with fan_in_fan_out (the
// weight stored [in, out], the update transposed), and that reads of any size and offset give
// the same bytes (the update is applied chunk by chunk).
func TestLoRAReference(t *testing.T) {
	dir := t.TempDir()
	base, models := family(t, 11, llamaLike, tensor.F32, 1, 0.5)
	_, ms := writeHFFamily(t, dir, base, models, 0)
	r := rand.New(rand.NewPCG(3, 4))
	const rank, alpha = 4, 16.0
	// q_proj is [32 out, 32 in]; up_proj, read with fan_in_fan_out, is [48 in, 32 out].
	qa, qb := randVec(r, rank*32), randVec(r, 32*rank)
	ua, ub := randVec(r, rank*48), randVec(r, 32*rank)
	pre := "base_model.model."
	mats := map[string][]float32{
		pre + "model.layers.0.self_attn.q_proj.lora_A.weight": qa, pre + "model.layers.0.self_attn.q_proj.lora_B.weight": qb,
	}
	shapes := map[string][]int{
		pre + "model.layers.0.self_attn.q_proj.lora_A.weight": {rank, 32}, pre + "model.layers.0.self_attn.q_proj.lora_B.weight": {32, rank},
	}
	adapter := filepath.Join(dir, "adapter")
	writeAdapter(t, adapter, map[string]any{"peft_type": "LORA", "r": rank, "lora_alpha": alpha, "target_modules": []string{"q_proj", "v_proj"}, "bias": "none"}, mats, shapes)
	fanMats := map[string][]float32{pre + "model.layers.1.mlp.up_proj.lora_A.weight": ua, pre + "model.layers.1.mlp.up_proj.lora_B.weight": ub}
	fanShapes := map[string][]int{pre + "model.layers.1.mlp.up_proj.lora_A.weight": {rank, 48}, pre + "model.layers.1.mlp.up_proj.lora_B.weight": {32, rank}}
	fanAdapter := filepath.Join(dir, "fan")
	writeAdapter(t, fanAdapter, map[string]any{"r": rank, "lora_alpha": alpha, "target_modules": "model\\.layers\\.\\d+\\.mlp\\.up_proj", "fan_in_fan_out": true}, fanMats, fanShapes)

	// W + s B A by hand: normal (W[o][i] += s sum_k B[o][k] A[k][i]) and transposed
	// (W[i][o] += s sum_k B[o][k] A[k][i]).
	s := alpha / rank
	wq := mustFloat32(t, models[0]["model.layers.0.self_attn.q_proj.weight"])
	wantQ := make([]float32, len(wq))
	for o := range 32 {
		for i := range 32 {
			var d float64
			for k := range rank {
				d += float64(qb[o*rank+k]) * float64(qa[k*32+i])
			}
			wantQ[o*32+i] = float32(float64(wq[o*32+i]) + s*d)
		}
	}
	wu := mustFloat32(t, models[0]["model.layers.1.mlp.up_proj.weight"])
	wantU := make([]float32, len(wu))
	for i := range 48 {
		for o := range 32 {
			var d float64
			for k := range rank {
				d += float64(ub[o*rank+k]) * float64(ua[k*48+i])
			}
			wantU[i*32+o] = float32(float64(wu[i*32+o]) + s*d)
		}
	}
	for _, tc := range []struct {
		adapter, tensor string
		want            []float32
	}{
		{adapter, "model.layers.0.self_attn.q_proj.weight", wantQ},
		{fanAdapter, "model.layers.1.mlp.up_proj.weight", wantU},
	} {
		cfg := &Config{Method: "linear", Models: []Input{{Path: ms[0] + "+" + tc.adapter}}}
		out := filepath.Join(t.TempDir(), "out")
		if _, err := Run(context.Background(), cfg, RunOptions{Out: out}); err != nil {
			t.Fatal(err)
		}
		c, err := tensor.OpenCheckpoint(out)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := c.ReadFloat32(tc.tensor)
		if err != nil {
			t.Fatal(err)
		}
		approxEqual(t, got, tc.want, 1e-6)
		// Every other tensor is the model's, unchanged.
		for _, sh := range llamaLike {
			if sh.name == tc.tensor {
				continue
			}
			v, _, _ := c.ReadFloat32(sh.name)
			approxEqual(t, v, mustFloat32(t, models[0][sh.name]), 0)
		}
		c.Close()

		// Reads of 7 elements (straddling rows) give the bytes of one whole read.
		ck, err := tensor.OpenCheckpoint(ms[0])
		if err != nil {
			t.Fatal(err)
		}
		ls, err := openLoRA(checkpointSource{label: "m", ckpt: ck}, tc.adapter)
		if err != nil {
			t.Fatal(err)
		}
		whole := make([]byte, len(tc.want)*4)
		if err := ls.readAt(tc.tensor, whole, 0); err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(whole); off += 28 {
			part := make([]byte, min(28, len(whole)-off))
			if err := ls.readAt(tc.tensor, part, int64(off)); err != nil {
				t.Fatal(err)
			}
			if string(part) != string(whole[off:off+len(part)]) {
				t.Fatalf("%s: the read at %d differs from the whole read", tc.tensor, off)
			}
		}
		ls.adapter.Close()
		ck.Close()
	}

	// Per-module overrides (rank_pattern, alpha_pattern) and rsLoRA's alpha/sqrt(r) give the
	// scale by the same rules as PEFT: each adapter below scales by 4, like the first one.
	same := func(name string, cfg map[string]any) {
		ad := filepath.Join(dir, name)
		writeAdapter(t, ad, cfg, mats, shapes)
		outs := []string{}
		for _, a := range []string{adapter, ad} {
			o := filepath.Join(t.TempDir(), "o")
			if _, err := Run(context.Background(), &Config{Method: "linear", Models: []Input{{Path: ms[0] + "+" + a}}}, RunOptions{Out: o}); err != nil {
				t.Fatal(err)
			}
			outs = append(outs, treeHashTensors(t, o))
		}
		if outs[0] != outs[1] {
			t.Errorf("%s: not the same update as alpha/r = 4", name)
		}
	}
	same("patterns", map[string]any{"r": 8, "lora_alpha": 2, "rank_pattern": map[string]int{"q_proj": rank}, "alpha_pattern": map[string]float64{"layers.0.self_attn.q_proj": 16}})
	same("rslora", map[string]any{"r": rank, "lora_alpha": 8, "use_rslora": true})

	// What stays unsupported is refused, naming the key.
	for key, val := range map[string]any{"use_dora": true, "modules_to_save": []string{"lm_head"}, "bias": "all", "peft_type": "IA3"} {
		bad := filepath.Join(dir, "bad-"+key)
		cfg := map[string]any{"r": rank, "lora_alpha": alpha, key: val}
		writeAdapter(t, bad, cfg, mats, shapes)
		c := &Config{Method: "linear", Models: []Input{{Path: ms[0] + "+" + bad}}}
		_, err := Run(context.Background(), c, RunOptions{Out: filepath.Join(dir, "never")})
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v, want an error naming it", key, err)
		}
	}
	// A rank that does not match r.
	c := &Config{Method: "linear", Models: []Input{{Path: ms[0] + "+" + filepath.Join(dir, "wrong-r")}}}
	writeAdapter(t, filepath.Join(dir, "wrong-r"), map[string]any{"r": 8, "lora_alpha": alpha}, mats, shapes)
	if _, err := Run(context.Background(), c, RunOptions{Out: filepath.Join(dir, "never")}); err == nil || !strings.Contains(err.Error(), "rank 4 but the config says r = 8") {
		t.Errorf("wrong r: %v", err)
	}
}
