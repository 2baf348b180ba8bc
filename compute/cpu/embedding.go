package cpu

// EmbeddingForward copies row ids[i] of table (rows of width d) into row i of out, for each of
// the len(ids) ids. Ids must index table; callers check them against the vocabulary first.
func EmbeddingForward(be Backend, out, table []float32, ids []int32, d int) {
	For(be.Threads(), len(ids), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			id := int(ids[i])
			copy(out[i*d:(i+1)*d], table[id*d:(id+1)*d])
		}
	})
}

// EmbeddingBackward adds row i of dout to row ids[i] of dtable. Work is split by columns, so
// every element accumulates its rows in row order whatever the thread count.
func EmbeddingBackward(be Backend, dtable, dout []float32, ids []int32, d int) {
	For(be.Threads(), d, func(lo, hi int) {
		for i, id := range ids {
			dst := dtable[int(id)*d+lo : int(id)*d+hi]
			src := dout[i*d+lo : i*d+hi]
			for j, v := range src {
				dst[j] += v
			}
		}
	})
}
