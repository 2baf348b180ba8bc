package llama

import (
	"testing"

	"github.com/ordermerge/ordermerge/compute/cpu"
	"github.com/ordermerge/ordermerge/internal/seeded"
	"github.com/ordermerge/ordermerge/tensor"
)

// BenchmarkTrainStep times forward + backward of the small benchmark configuration of
// bench/train (dim 256, 4 layers, 8 heads, ffn 704, vocab 512, 16 x 128 tokens) on each
// backend. bench/train adds the optimizer step and runs PyTorch in the same run.
func BenchmarkTrainStep(b *testing.B) {
	bes := []cpu.Backend{cpu.NewGoBackend(0)}
	if cpu.HaveOpenBLAS() {
		be, err := cpu.NewBackend(cpu.BackendOpenBLAS, 0)
		if err != nil {
			b.Fatal(err)
		}
		bes = append(bes, be)
	}
	cfg := tensor.NewLlamaConfig(256, 704, 4, 8, 8, 512, 128)
	for _, be := range bes {
		b.Run(be.Name(), func(b *testing.B) {
			m, err := New(cfg, 1, Options{Device: cpu.NewDevice(be)})
			if err != nil {
				b.Fatal(err)
			}
			batch := randomBatch(seeded.New(1), 16, 128, cfg.VocabSize)
			w := make([]float32, 16)
			for i := range w {
				w[i] = 1.0 / 16
			}
			if _, err := m.ForwardBackward(batch, w); err != nil { // buffers allocated here
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.ZeroGrad()
				if _, err := m.ForwardBackward(batch, w); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(16*128*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
