package viz_test

import (
	"fmt"

	"github.com/ordermerge/ordermerge/viz"
)

// The imbalance figure from per-sample records: first-epoch positions and final losses.
func ExampleImbalance() {
	s := viz.ImbalanceSeries{Name: "order seed 1"}
	for pos := 0; pos < 100; pos++ {
		s.Positions = append(s.Positions, pos)
		s.Losses = append(s.Losses, 2-float64(pos)/100) // early samples end worse fitted
	}
	fig, err := viz.Imbalance([]viz.ImbalanceSeries{s}, viz.ImbalanceOptions{Bins: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, x := range fig.Series[0].X {
		fmt.Printf("bin at %.1f: mean loss %.3f over %d samples\n", x, fig.Series[0].Y[i], fig.Series[0].N[i])
	}
	png, _ := fig.PNG() // in the ordermerge kernel, a cell ending in `fig` shows it inline
	fmt.Println(len(png) > 0)
	// Output:
	// bin at 12.0: mean loss 1.880 over 25 samples
	// bin at 37.0: mean loss 1.630 over 25 samples
	// bin at 62.0: mean loss 1.380 over 25 samples
	// bin at 87.0: mean loss 1.130 over 25 samples
	// true
}

// Merge methods against the single models, with the spread over seeds.
func ExampleMergeComparison() {
	fig, err := viz.MergeComparison([]viz.Score{
		{Method: "single", Dataset: "arith", Values: []float64{31, 35, 33}},
		{Method: "linear", Dataset: "arith", Values: []float64{36, 37}},
		{Method: "parameter_selection", Dataset: "arith", Values: []float64{38, 40}},
	}, viz.ComparisonOptions{Metric: "exact match (%)"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range fig.Series {
		fmt.Printf("%s: %.1f [%g, %g]\n", s.Name, s.Y[0], s.Lo[0], s.Hi[0])
	}
	// Output:
	// single: 33.0 [31, 35]
	// linear: 36.5 [36, 37]
	// parameter_selection: 39.0 [38, 40]
}
