package kernel

import (
	"fmt"
	"strings"
	"testing"
)

// A merge method written in a cell (interpreted code) registers and runs in the compiled
// streaming engine, including a statistics pass and checkpoint folders under a memory budget.
func TestCellRegistersMergeMethod(t *testing.T) {
	s := realSession(t)
	cells := []string{
		`import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ordermerge/ordermerge/merge"
	"github.com/ordermerge/ordermerge/tensor"
)`,
		`type shrink struct{}

func (shrink) Info() merge.MethodInfo {
	return merge.MethodInfo{Name: "shrink", Summary: "mean minus a share of its tensor mean", MinModels: 1, Passes: "1",
		Params: []merge.ParamSpec{{Name: "share", Kind: merge.FloatParam, Default: 1}}}
}

type shrinkKernel struct {
	share, sum float64
	n          int
}

func (shrink) NewKernel(t merge.TensorInfo, p *merge.TensorParams) (merge.Kernel, error) {
	return &shrinkKernel{share: p.Float("share"), n: t.Numel}, nil
}
func (k *shrinkKernel) ScanPasses() int { return 1 }
func (k *shrinkKernel) Scan(pass int, b *merge.Block) {
	for _, m := range b.Models {
		for _, v := range m {
			k.sum += float64(v)
		}
	}
}
func (k *shrinkKernel) EndScan(pass int) {}
func (k *shrinkKernel) Merge(b *merge.Block) {
	mean := k.sum / float64(k.n*len(b.Models))
	for j := range b.Out {
		var s float64
		for _, m := range b.Models {
			s += float64(m[j])
		}
		b.Out[j] = float32(s/float64(len(b.Models)) - k.share*mean)
	}
}`,
		`reg := merge.NewRegistry()
if err := reg.Register(shrink{}); err != nil {
	panic(err)
}`,
		`dir, _ := os.MkdirTemp("", "cellmerge")
save := func(name string, v []float32) string {
	x, _ := tensor.NewF32("w", []int{len(v)}, v)
	p := filepath.Join(dir, name)
	if err := tensor.SaveCheckpoint(p, nil, []*tensor.Tensor{x}, tensor.CheckpointOptions{}); err != nil {
		panic(err)
	}
	return p
}
n := 200000
a, b := make([]float32, n), make([]float32, n)
for j := range a {
	a[j], b[j] = float32(j%7), float32(3+j%5)
}
cfg, err := reg.ParseConfig([]byte(fmt.Sprintf("merge_method: shrink\nmodels:\n  - model: %s\n  - model: %s\nparameters:\n  share: 0.5\n", save("a", a), save("b", b))), "cell.yml")
if err != nil {
	panic(err)
}
_, err = merge.Run(context.Background(), cfg, merge.RunOptions{Out: filepath.Join(dir, "out"), MaxMemory: 6 << 20})
if err != nil {
	panic(err)
}
c, _ := tensor.OpenCheckpoint(filepath.Join(dir, "out"))
v, _, _ := c.ReadFloat32("w")
c.Close()
os.RemoveAll(dir)
fmt.Println(len(v), v[0], v[1], v[n-1])`,
	}
	var out string
	for _, code := range cells {
		r, printed := mustRun(t, s, code)
		if r.Data != nil {
			t.Fatalf("cell %q has the value %v", code[:min(len(code), 40)], r.Data["text/plain"])
		}
		out += printed
	}
	// Means: a is 0..6 repeating (mean ~2.99997), b is 3..7 repeating (mean 5); their average's
	// mean is about 3.99999, half of it is subtracted: element 0 is (0+3)/2 - 1.999995.
	var n = 200000
	var sa, sb float64
	for j := 0; j < n; j++ {
		sa += float64(j % 7)
		sb += float64(3 + j%5)
	}
	half := 0.5 * (sa + sb) / float64(2*n)
	want := []float32{float32(1.5 - half), float32(2.5 - half), float32(float64((n-1)%7+3+(n-1)%5)/2 - half)}
	got := strings.Fields(out)
	if len(got) != 4 || got[0] != "200000" {
		t.Fatalf("cell printed %q", out)
	}
	for i, w := range want {
		if got[i+1] != fmt.Sprint(w) {
			t.Errorf("value %d: %s, want %v", i, got[i+1], w)
		}
	}
}
