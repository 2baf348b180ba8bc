package merge

import (
	"fmt"
	"math"
)

// arceeFusion is mergekit's arcee_fusion: the base and one model; each element's importance is
// |x - b| times the row's KL divergence KL(softmax(x) || softmax(b)) (rows: the last
// dimension, softmaxes plus 1e-8); the model's value is taken where the importance reaches
// median + 1.5 (q3 - q1) of the tensor's importances, the base's elsewhere. The quartiles are
// the order statistics at floor(q (n - 1)) of the sorted importances, as mergekit computes
// them; mergekit estimates them from a random sample of 10^6 elements (its torch RNG) for
// larger tensors, where ordermerge uses every element, so results there differ slightly.
type arceeFusion struct{}

func (arceeFusion) Info() MethodInfo {
	return MethodInfo{
		Name:      "arcee_fusion",
		Summary:   "Arcee Fusion: take the model's elements whose importance (|x-b| times the row's softmax KL) is an outlier",
		NeedsBase: true,
		MinModels: 1,
		MaxModels: 1,
		Endpoints: 2,
		Passes:    "4 (softmax statistics, KL per row, two for the exact quartiles)",
	}
}

func (arceeFusion) NewKernel(ti TensorInfo, p *TensorParams) (Kernel, error) {
	if !ti.HasBase || len(ti.Models) != 1 {
		return nil, fmt.Errorf("arcee_fusion takes the base and exactly one other model")
	}
	rowLen := ti.Numel
	if len(ti.Shape) >= 2 {
		rowLen = ti.Shape[len(ti.Shape)-1]
	}
	rowLen = max(rowLen, 1)
	rows := max(1, ti.Numel/rowLen)
	n := ti.Numel
	k := &fusionKernel{rowLen: rowLen, n: n, mx: fill(rows, math.Inf(-1)), mb: fill(rows, math.Inf(-1)),
		sx: make([]float64, rows), sb: make([]float64, rows), kl: make([]float64, rows)}
	for i, q := range []float32{0.25, 0.5, 0.75} {
		k.ranks[i] = int64(q * float32(n-1))
	}
	return k, nil
}

func fill(n int, v float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

type fusionKernel struct {
	rowLen, n int
	// per row: running maxima and sums of exp for the softmaxes of x and b, then the KL
	mx, sx, mb, sb, kl []float64
	ranks              [3]int64
	hi                 []int64
	bucket             [3]uint32
	below              [3]int64 // elements in buckets under the rank's
	lo                 map[uint32][]int64
	q                  [3]float32
	thr                float32
}

func (k *fusionKernel) ScanPasses() int { return 4 }

func (k *fusionKernel) importance(b *Block, j int) float32 {
	r := (b.Offset + j) / k.rowLen
	d := float32(math.Abs(float64(b.Models[0][j] - b.Base[j])))
	return float32(float64(d) * k.kl[r])
}

func (k *fusionKernel) Scan(pass int, b *Block) {
	x := b.Models[0]
	switch pass {
	case 0: // online softmax statistics per row
		for j, bv := range b.Base {
			r := (b.Offset + j) / k.rowLen
			onlineSoftmax(&k.mx[r], &k.sx[r], float64(x[j]))
			onlineSoftmax(&k.mb[r], &k.sb[r], float64(bv))
		}
	case 1:
		for j, bv := range b.Base {
			r := (b.Offset + j) / k.rowLen
			p := math.Exp(float64(x[j])-k.mx[r])/k.sx[r] + 1e-8
			q := math.Exp(float64(bv)-k.mb[r])/k.sb[r] + 1e-8
			k.kl[r] += p * math.Log(p/q)
		}
	case 2:
		if k.hi == nil {
			k.hi = make([]int64, 1<<16)
		}
		for j := range b.Base {
			k.hi[math.Float32bits(k.importance(b, j))>>16]++
		}
	case 3:
		for j := range b.Base {
			key := math.Float32bits(k.importance(b, j))
			if h, ok := k.lo[key>>16]; ok {
				h[key&0xffff]++
			}
		}
	}
}

// onlineSoftmax adds v to a running maximum m and sum s of exp(x - m).
func onlineSoftmax(m, s *float64, v float64) {
	if v > *m {
		*s = *s*math.Exp(*m-v) + 1
		*m = v
		return
	}
	*s += math.Exp(v - *m)
}

func (k *fusionKernel) EndScan(pass int) {
	switch pass {
	case 2:
		k.lo = map[uint32][]int64{}
		for i, rank := range k.ranks {
			var acc int64
			for h := range k.hi {
				if acc+k.hi[h] > rank {
					k.bucket[i], k.below[i] = uint32(h), acc
					if k.lo[uint32(h)] == nil {
						k.lo[uint32(h)] = make([]int64, 1<<16)
					}
					break
				}
				acc += k.hi[h]
			}
		}
		k.hi = nil
	case 3:
		for i, rank := range k.ranks {
			h := k.lo[k.bucket[i]]
			acc := k.below[i]
			for l := range h {
				if acc+h[l] > rank {
					k.q[i] = math.Float32frombits(k.bucket[i]<<16 | uint32(l))
					break
				}
				acc += h[l]
			}
		}
		k.lo = nil
		// In float32, as mergekit's torch arithmetic: median + 1.5 * (q3 - q1).
		k.thr = float32(k.q[1] + float32(1.5*float32(k.q[2]-k.q[0])))
	}
}

func (k *fusionKernel) Note() string {
	return fmt.Sprintf("threshold %.4g (q1 %.4g, median %.4g, q3 %.4g)", k.thr, k.q[0], k.q[1], k.q[2])
}

func (k *fusionKernel) Merge(b *Block) {
	x := b.Models[0]
	for j, bv := range b.Base {
		if k.importance(b, j) >= k.thr {
			b.Out[j] = float32(bv + float32(x[j]-bv)) // b + (x - b), rounded as mergekit's
		} else {
			b.Out[j] = bv
		}
	}
}
