package merge

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

// centered is a test method with a statistics pass: each model minus its own mean over the
// tensor, averaged. It checks that a registered method gets every pass over the whole tensor.
type centered struct{}

func (centered) Info() MethodInfo {
	return MethodInfo{Name: "centered", Summary: "mean of the models, each centred on its tensor mean", MinModels: 1, Passes: "1"}
}

func (centered) NewKernel(t TensorInfo, p *TensorParams) (Kernel, error) {
	return &centeredKernel{sums: make([]float64, len(t.Models)), n: t.Numel}, nil
}

type centeredKernel struct {
	sums []float64
	n    int
}

func (k *centeredKernel) ScanPasses() int { return 1 }
func (k *centeredKernel) Scan(pass int, b *Block) {
	for i, m := range b.Models {
		for _, v := range m {
			k.sums[i] += float64(v)
		}
	}
}
func (k *centeredKernel) EndScan(int) {}
func (k *centeredKernel) Merge(b *Block) {
	for j := range b.Out {
		var s float64
		for i, m := range b.Models {
			s += float64(m[j]) - k.sums[i]/float64(k.n)
		}
		b.Out[j] = float32(s / float64(len(b.Models)))
	}
}

func TestRegisteredMethodStreams(t *testing.T) {
	r := NewRegistry()
	if err := r.Register(centered{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := LookupMethod("centered"); ok {
		t.Fatal("a method registered in one registry is visible in the built-in one")
	}
	if info, ok := r.Lookup("centered"); !ok || info.Passes != "1" {
		t.Fatalf("Lookup: %+v %v", info, ok)
	}
	// 3 x 300k elements: far more than one chunk under an 8 MiB budget with two workers.
	rng := rand.New(rand.NewPCG(1, 2))
	n := 300_000
	var models [][]float32
	for i := 0; i < 3; i++ {
		v := make([]float32, n)
		for j := range v {
			v[j] = float32(rng.NormFloat64() + float64(i))
		}
		models = append(models, v)
	}
	dir := t.TempDir()
	cfg := writeVecFamily(t, dir, nil, models)
	cfg.Method, cfg.Registry = "centered", r
	out := filepath.Join(dir, "out")
	if _, err := Run(context.Background(), cfg, RunOptions{Out: out, MaxMemory: 8 << 20}); err != nil {
		t.Fatal(err)
	}
	got := readVec(t, out)
	want := make([]float32, n)
	for _, m := range models {
		var s float64
		for _, v := range m {
			s += float64(v)
		}
		for j, v := range m {
			want[j] += float32((float64(v) - s/float64(n)) / 3)
		}
	}
	approxEqual(t, got, want, 1e-5)
	// Without the registry the config's method is unknown.
	cfg.Registry = nil
	if _, err := Run(context.Background(), cfg, RunOptions{Out: filepath.Join(dir, "out2")}); err == nil || !strings.Contains(err.Error(), `unknown merge method "centered"`) {
		t.Fatalf("built-in registry: %v", err)
	}
}

func TestRegisterRefusesBadMethods(t *testing.T) {
	r := NewRegistry()
	for _, c := range []struct {
		m    Method
		want string
	}{
		{linear{}, "already registered"},
		{infoMethod{MethodInfo{Name: "Bad Name"}}, "name must match"},
		{infoMethod{MethodInfo{Name: "m", Params: []ParamSpec{{Name: "seed"}}}}, "reserved"},
		{infoMethod{MethodInfo{Name: "m", Params: []ParamSpec{{Name: "a"}, {Name: "a"}}}}, "declared twice"},
		{infoMethod{MethodInfo{Name: "m", Params: []ParamSpec{{Name: "c", Kind: ChoiceParam, Choices: []string{"x"}, DefaultChoice: "y"}}}}, "not one of its choices"},
		{infoMethod{MethodInfo{Name: "m", MinModels: 3, MaxModels: 2}}, "below MinModels"},
		{infoMethod{MethodInfo{Name: "m", Selecting: true}}, "MaxModels must be in [1, 254]"},
		{nil, "nil method"},
	} {
		err := r.Register(c.m)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Register(%v): %v, want %q", c.m, err, c.want)
		}
	}
	var zero Registry
	if err := zero.Register(centered{}); err == nil {
		t.Error("the zero Registry accepted a method")
	}
	var nilReg *Registry
	if len(nilReg.Methods()) != len(builtinMethods()) {
		t.Error("a nil registry does not list the built-in methods")
	}
}

type infoMethod struct{ info MethodInfo }

func (m infoMethod) Info() MethodInfo { return m.info }
func (infoMethod) NewKernel(TensorInfo, *TensorParams) (Kernel, error) {
	return nil, nil
}
