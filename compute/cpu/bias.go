package cpu

// BiasForward adds b (cols values) to every row of x (rows x cols).
func BiasForward(be Backend, x, b []float32, rows, cols int) {
	For(be.Threads(), rows, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := x[r*cols : (r+1)*cols]
			for j, v := range b[:cols] {
				row[j] += v
			}
		}
	})
}

// BiasBackward adds the column sums of dout (rows x cols) to db. Split by columns: each db
// element sums its rows in row order, whatever the threads.
func BiasBackward(be Backend, db, dout []float32, rows, cols int) {
	For(be.Threads(), cols, func(lo, hi int) {
		acc := db[lo:hi]
		for r := 0; r < rows; r++ {
			for j, v := range dout[r*cols+lo : r*cols+hi] {
				acc[j] += v
			}
		}
	})
}
