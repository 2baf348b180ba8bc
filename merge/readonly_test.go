package merge

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"unsafe"
)

// readOnly wraps a method so that every call into its kernel checks that Block.Base and
// Block.Models are unchanged: the engine hands kernels views of its read buffers, which a
// whole tensor's later passes read again, so a kernel writing to its inputs would corrupt them.
type readOnly struct {
	Method
	t    *testing.T
	name string
}

func (m readOnly) Info() MethodInfo {
	info := m.Method.Info()
	info.Name = m.name
	return info
}

func (m readOnly) NewKernel(t TensorInfo, p *TensorParams) (Kernel, error) {
	k, err := m.Method.NewKernel(t, p)
	if err != nil || k == nil {
		return k, err
	}
	return &readOnlyKernel{Kernel: k, t: m.t, method: m.Method.Info().Name}, nil
}

type readOnlyKernel struct {
	Kernel
	t      *testing.T
	method string
	seed   maphash.Seed
}

func (k *readOnlyKernel) sum(b *Block) uint64 {
	if k.seed == (maphash.Seed{}) {
		k.seed = maphash.MakeSeed()
	}
	var h maphash.Hash
	h.SetSeed(k.seed)
	for _, v := range append([][]float32{b.Base}, b.Models...) {
		if len(v) > 0 {
			h.Write(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v)))
		}
	}
	return h.Sum64()
}

func (k *readOnlyKernel) Scan(pass int, b *Block) {
	before := k.sum(b)
	k.Kernel.Scan(pass, b)
	if k.sum(b) != before {
		k.t.Errorf("%s: Scan(pass %d) wrote to its inputs at offset %d", k.method, pass, b.Offset)
	}
}

func (k *readOnlyKernel) Merge(b *Block) {
	before := k.sum(b)
	k.Kernel.Merge(b)
	if k.sum(b) != before {
		k.t.Errorf("%s: Merge wrote to its inputs at offset %d", k.method, b.Offset)
	}
}

// TestKernelsLeaveInputsUnchanged runs every built-in method from float32 checkpoints (whose
// blocks are views of the read buffers) on a tensor of several blocks, held whole and read
// in chunks.
func TestKernelsLeaveInputsUnchanged(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 3*blockElems + 123
	base := randVec(r, n)
	var models [][]float32
	for range 3 {
		models = append(models, finetuned(r, base, 0.5))
	}
	dir := t.TempDir()
	family := writeVecFamily(t, dir, base, models)
	reg := NewRegistry()
	for _, m := range builtinMethods() {
		info := m.Info()
		name := "ro_" + info.Name
		if err := reg.Register(readOnly{Method: m, t: t, name: name}); err != nil {
			t.Fatal(err)
		}
		k := 3
		if info.Endpoints > 0 {
			k = info.Endpoints - 1
		}
		if info.MaxModels > 0 {
			k = min(k, info.MaxModels)
		}
		cfg := &Config{Method: name, Base: family.Base, Models: family.Models[:k], Registry: reg, Params: map[string]any{}}
		if info.Name == "karcher" { // a mean of the models alone
			cfg.Base = ""
		}
		if info.Randomised {
			cfg.Seed = 5
		}
		for _, p := range info.Params {
			switch p.Name {
			case "density":
				cfg.Params["density"] = 0.5
			case "weight":
				cfg.Params["weight"] = 1.0
			case "t":
				cfg.Params["t"] = 0.3
			case "select_topk":
				cfg.Params["select_topk"] = 0.5
			}
		}
		// The default budget holds the tensor whole; 7 MiB leaves one block per input, so
		// statistics passes read it again.
		for i, mem := range []int64{0, 7 << 20} {
			out := filepath.Join(dir, fmt.Sprintf("%s-%d", info.Name, i))
			if _, err := Run(context.Background(), cfg, RunOptions{Out: out, MaxMemory: mem}); err != nil {
				t.Errorf("%s (budget %d): %v", info.Name, mem, err)
			}
		}
	}
}
