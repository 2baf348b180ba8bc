package study

import (
	"fmt"
	"math"
)

// Comparisons of accuracies use the test split's sampling noise as the yardstick: a
// difference is "clear" when it exceeds twice the standard error of the difference of two
// accuracies measured on the same number of samples (binomial, p from the pair's mean), and
// the seeds' spread when that is larger.

// binomialSE is the standard error of an accuracy p measured on n samples.
func binomialSE(p float64, n int) float64 {
	if n <= 0 {
		return math.NaN()
	}
	p = math.Min(math.Max(p, 0.5/float64(n)), 1-0.5/float64(n))
	return math.Sqrt(p * (1 - p) / float64(n))
}

// clearMargin is the smallest difference between accuracies a and b (each a list of runs on
// n samples) that the report calls clear.
func clearMargin(a, b []float64, n int) float64 {
	ma, sa := meanStd(a)
	mb, sb := meanStd(b)
	se := binomialSE((ma+mb)/2, n)
	noise := 2 * math.Sqrt(2) * se
	spread := 2 * math.Sqrt(sa*sa/float64(len(a))+sb*sb/float64(len(b)))
	return math.Max(noise, spread)
}

// comparison is the outcome of "a beats b" on one dataset.
type comparison struct {
	diff  float64 // mean(a) - mean(b), in accuracy units
	clear bool    // |diff| beyond the margin
}

func compare(a, b []float64, n int) comparison {
	ma, _ := meanStd(a)
	mb, _ := meanStd(b)
	d := ma - mb
	return comparison{diff: d, clear: math.Abs(d) > clearMargin(a, b, n)}
}

// tally counts, over datasets, how a comparison came out.
type tally struct {
	wins, clearWins, losses, clearLosses, n int
	meanDiff                                float64
}

func (t *tally) add(c comparison) {
	t.n++
	t.meanDiff += c.diff // summed here, averaged in summary
	switch {
	case c.diff > 0 && c.clear:
		t.wins++
		t.clearWins++
	case c.diff > 0:
		t.wins++
	case c.diff < 0 && c.clear:
		t.losses++
		t.clearLosses++
	case c.diff < 0:
		t.losses++
	}
}

// summary says in words how a beat b over the datasets.
func (t tally) summary(a, b string) string {
	if t.n == 0 {
		return fmt.Sprintf("%s and %s were not both measured.", a, b)
	}
	avg := 100 * t.meanDiff / float64(t.n)
	ties := t.n - t.wins - t.losses
	s := fmt.Sprintf("%s scored higher than %s on %d of %d datasets (clearly, beyond test-set noise and seed spread, on %d), lower on %d (clearly on %d)",
		a, b, t.wins, t.n, t.clearWins, t.losses, t.clearLosses)
	if ties > 0 {
		s += fmt.Sprintf(", equal on %d", ties)
	}
	s += fmt.Sprintf("; mean difference %+.1f points.", avg)
	switch {
	case t.clearWins > 0 && t.clearLosses == 0 && t.wins > t.n/2:
		s += " **It holds on this data.**"
	case t.clearWins == 0 && t.clearLosses == 0:
		s += " **No clear difference on this data.**"
	case t.clearLosses > 0 && t.clearWins == 0:
		s += " **The opposite holds on this data.**"
	default:
		s += " **Mixed: it depends on the dataset.**"
	}
	return s
}
