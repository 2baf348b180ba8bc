package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

// dellaShapes have rows that straddle the merge engine's 65536-element blocks, and one 1-D
// tensor longer than a block (one row).
var dellaShapes = []struct {
	name  string
	shape []int
}{
	{"model.embed_tokens.weight", []int{96, 700}},
	{"model.layers.0.mlp.down_proj.weight", []int{70, 3001}},
	{"model.layers.0.input_layernorm.weight", []int{100000}},
	{"lm_head.weight", []int{96, 700}},
}

// dellaFixture writes a float32 base and three fine-tunes (about 30% of their elements equal
// to the base, as in the mergekit reference corpus).
func dellaFixture(t *testing.T) (dir, base string, models []string) {
	t.Helper()
	dir = t.TempDir()
	r := rand.New(rand.NewPCG(5, 6))
	baseVals := make([][]float32, len(dellaShapes))
	for i, s := range dellaShapes {
		n := 1
		for _, d := range s.shape {
			n *= d
		}
		baseVals[i] = make([]float32, n)
		for j := range baseVals[i] {
			baseVals[i][j] = float32(r.NormFloat64() * 0.05)
		}
	}
	save := func(name string, jitter float64) string {
		var ts []*tensor.Tensor
		for i, s := range dellaShapes {
			v := append([]float32(nil), baseVals[i]...)
			for j := range v {
				if r.Float64() < 0.7 {
					v[j] += float32(r.NormFloat64() * jitter)
				}
			}
			x, err := tensor.FromFloat32(s.name, s.shape, v, tensor.F32)
			if err != nil {
				t.Fatal(err)
			}
			ts = append(ts, x)
		}
		p := filepath.Join(dir, name)
		if err := tensor.SaveCheckpoint(p, tensor.NewLlamaConfig(700, 3001, 1, 7, 7, 96, 128), ts, tensor.CheckpointOptions{}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base = save("base", 0)
	for i, j := range []float64{0.01, 0.02, 0.015} {
		models = append(models, save(fmt.Sprintf("variant-%d", i+1), j))
	}
	return dir, base, models
}

// TestMergeCLIDella runs mergekit-style YAML configs of della and della_linear at density 0.5
// through `ordermerge merge --config`: the same bytes whatever --workers and --max-memory;
// a single model with rescale off keeps each changed element or leaves it at the base, as
// many as its ranks' probabilities add up to; and, where PyTorch is installed, every tensor matches mergekit's DELLA
// rule computed by PyTorch from draws derived in NumPy from merge/doc.go's description of the
// random streams (testdata/della_reference.py), independently of ordermerge's code.
func TestMergeCLIDella(t *testing.T) {
	dir, base, models := dellaFixture(t)
	type cfg struct {
		method  string
		weights []float64
		dens    []float64
		eps     []float64
		lambda  float64
		rescale bool
		seed    uint64
	}
	yamlOf := func(c cfg, models []string) string {
		y := fmt.Sprintf("merge_method: %s\nbase_model: %s\nmodels:\n", c.method, base)
		for i, m := range models {
			y += fmt.Sprintf("  - model: %s\n    parameters:\n      weight: %v\n      density: %v\n      epsilon: %v\n", m, c.weights[i], c.dens[i], c.eps[i])
		}
		return y + fmt.Sprintf("parameters:\n  lambda: %v\n  rescale: %v\n  seed: %d\ndtype: float32\n", c.lambda, c.rescale, c.seed)
	}
	merge := func(name string, c cfg, models []string, extra ...string) string {
		p := filepath.Join(dir, name+".yml")
		if err := os.WriteFile(p, []byte(yamlOf(c, models)), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, name)
		args := append([]string{"merge", "--config", p, "--out", out, "--quiet", "--force"}, extra...)
		if _, stderr, code := runCLI(t, args...); code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		return out
	}
	cases := map[string]cfg{
		"della":        {"della", []float64{0.6, 0.4, 0.5}, []float64{0.5, 0.5, 0.5}, []float64{0.1, 0.2, 0.15}, 1, true, 7},
		"della_linear": {"della_linear", []float64{0.5, -0.2, 0.4}, []float64{0.5, 0.5, 0.5}, []float64{0.15, 0.15, 0.3}, 1.2, true, 8},
	}
	outs := map[string]string{}
	for name, c := range cases {
		out := merge(name, c, models, "--workers", "1")
		again := merge(name+"-again", c, models, "--workers", "3", "--max-memory", "15MiB")
		for _, s := range dellaShapes {
			a, b := readF32(t, out, s.name), readF32(t, again, s.name)
			if !bytes.Equal(f32Bytes(a), f32Bytes(b)) {
				t.Errorf("%s %s: another --workers and --max-memory changed the result", name, s.name)
			}
		}
		outs[name] = out
	}

	// One model, no rescaling: every element is the model's or the base's. In a row (a 1-D
	// tensor is one), the z unchanged elements (delta 0) take the lowest ranks, so the changed
	// ones are kept with the probabilities of ranks z..B-1: their expected count is the sum of
	// (density - epsilon) + 2 epsilon r/(B-1) over those ranks.
	const dens, eps = 0.5, 0.15
	single := merge("single", cfg{"della_linear", []float64{1}, []float64{dens}, []float64{eps}, 1, false, 9}, models[:1])
	for _, s := range dellaShapes {
		b, x, got := readF32(t, base, s.name), readF32(t, models[0], s.name), readF32(t, single, s.name)
		cols := s.shape[len(s.shape)-1]
		var kept, want, variance float64
		for row := 0; row < len(got)/cols; row++ {
			z := 0
			for j := row * cols; j < (row+1)*cols; j++ {
				if x[j] == b[j] {
					z++
					if got[j] != b[j] {
						t.Fatalf("%s: element %d: %v, but the model equals the base %v", s.name, j, got[j], b[j])
					}
					continue
				}
				switch got[j] {
				case x[j]:
					kept++
				case b[j]:
				default:
					t.Fatalf("%s: element %d: %v is neither the model's %v nor the base's %v", s.name, j, got[j], x[j], b[j])
				}
			}
			for r := z; r < cols; r++ {
				p := dens - eps + 2*eps*float64(r)/float64(cols-1)
				want += p
				variance += p * (1 - p)
			}
		}
		if math.Abs(kept-want) > 5*math.Sqrt(variance) {
			t.Errorf("%s: kept %.0f of the changed elements, want %.0f (sd %.0f)", s.name, kept, want, math.Sqrt(variance))
		}
	}

	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch, numpy").Run(); err != nil {
		t.Skip("no PyTorch and NumPy under /usr/bin/python3: the reference comparison is skipped")
	}
	for name, c := range cases {
		var names []string
		for _, s := range dellaShapes {
			names = append(names, s.name)
		}
		spec, _ := json.Marshal(map[string]any{"seed": c.seed, "base": base, "models": models, "tensors": names,
			"weights": c.weights, "densities": c.dens, "epsilons": c.eps, "lambda": c.lambda, "rescale": c.rescale,
			"normalize": c.method == "della", "consensus": c.method == "della", "dtype": "f32"})
		cmd := exec.Command(py, "testdata/della_reference.py")
		cmd.Stdin = bytes.NewReader(spec)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		raw, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: reference: %v\n%s", name, err, stderr.String())
		}
		rd := bytes.NewReader(raw)
		for _, s := range dellaShapes {
			got := readF32(t, outs[name], s.name)
			want := make([]float32, len(got))
			if err := binary.Read(rd, binary.LittleEndian, want); err != nil {
				t.Fatalf("%s: reading the reference's %s: %v", name, s.name, err)
			}
			var maxWant, maxDiff float64
			for j := range got {
				maxWant = max(maxWant, math.Abs(float64(want[j])))
				maxDiff = max(maxDiff, math.Abs(float64(got[j]-want[j])))
			}
			// the mergekit corpus's float32 tolerance
			if maxDiff > 1e-6*maxWant {
				t.Errorf("%s %s: max |got - reference| = %g (max |reference| %g)", name, s.name, maxDiff, maxWant)
			}
		}
	}
}

func f32Bytes(v []float32) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, v)
	return b.Bytes()
}
