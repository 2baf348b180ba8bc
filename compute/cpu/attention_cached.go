package cpu

import (
	"math"

	"github.com/ordermerge/ordermerge/compute"
)

// AttentionCachedScratchSize is the scratch AttentionCached needs with the given thread
// count when no sequence has more than maxCount new rows.
func AttentionCachedScratchSize(s compute.KVCacheShape, threads, maxCount int) int {
	return threads * maxCount * s.MaxLen
}

// AttentionCached is causal attention for the new rows of several sequences against their
// cached keys and values (incremental decoding): row j of a sequence attends to its positions
// 0 .. Past+j. qkv rows are laid out as for AttentionForward (QKVWidth wide; only the query
// part is read here: the caller has already written the new keys and values into kc and vc).
// out receives Heads*HeadDim values per row.
func AttentionCached(be Backend, s compute.KVCacheShape, out, qkv, kc, vc []float32, seqs []compute.CachedSeq, scratch []float32, maxCount int) {
	ldq := (s.Heads + 2*s.KVHeads) * s.HeadDim
	kvw, D, hd := s.KVHeads*s.HeadDim, s.Heads*s.HeadDim, s.HeadDim
	rep := s.Heads / s.KVHeads
	scale := float32(1 / math.Sqrt(float64(hd)))
	ForWorker(be.Threads(), len(seqs)*s.Heads, func(w, lo, hi int) {
		sc := scratch[w*maxCount*s.MaxLen : (w+1)*maxCount*s.MaxLen]
		for task := lo; task < hi; task++ {
			q := seqs[task/s.Heads]
			if q.Count == 0 {
				continue
			}
			h := task % s.Heads
			g := h / rep
			keys := q.Past + q.Count
			base := q.Slot * s.MaxLen * kvw
			p := sc[:q.Count*keys]
			be.Gemm(false, true, q.Count, keys, hd, scale, qkv[q.Row*ldq+h*hd:], ldq, kc[base+g*hd:], kvw, 0, p, keys)
			for j := 0; j < q.Count; j++ {
				softmaxWindowRow(p[j*keys:(j+1)*keys], s.FirstKey(q.Past+j), q.Past+j)
			}
			be.Gemm(false, false, q.Count, hd, keys, 1, p, keys, vc[base+g*hd:], kvw, 0, out[q.Row*D+h*hd:], D)
		}
	})
}
