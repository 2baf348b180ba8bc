package pipe

import (
	"errors"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	cases := []struct{ prog, in, want string }{
		{"map x*x | filter x>5 | sum", "[1 2 3 4]", "25"},
		{"filter x%2==0 | len", "[1 2 3 4 6]", "3"},
		{"map x+3 | max", "3 1 4", "7"},
		{"sort | rev | take 2", "[3, 1, 4, 1, 5]", "[5 4]"},
		{"drop 2 | first", "[3 1 4 1 5]", "4"},
		{"drop 9", "[3 1]", "[]"},
		{"map (x-1)*-2 | min", "[0 5]", "-8"},
		{"map x/2 | last", "[-7 7]", "3"}, // truncation toward zero
		{"map x%3", "[-7 7]", "[-1 1]"},
		{"filter x*2 != x+1", "[0 1 2]", "[0 2]"},
		{"  sum  ", "[]", "0"},
	}
	for _, c := range cases {
		got, err := Run(c.prog, c.in)
		if err != nil || got != c.want {
			t.Errorf("Run(%q, %q) = %q, %v; want %q", c.prog, c.in, got, err, c.want)
		}
	}
}

func TestErrors(t *testing.T) {
	cases := []struct{ prog, in, errHas string }{
		{"map x*", "[1]", "offset 6"},
		{"sum | map x", "[1]", "must be the last stage"},
		{"filter x", "[1]", "needs a comparison"},
		{"take", "[1]", "needs a count"},
		{"print x", "[1]", `got "print"`},
		{"map x/0", "[1]", "division by zero"},
		{"map x*x*x*x*x*x*x*x", "[1000000]", "overflow"},
		{"max", "[]", "empty"},
		{"map x = 1", "[1]", "followed by ="},
		{"map x;", "[1]", "unexpected character"},
		{"map " + strings.Repeat("(", 40) + "x" + strings.Repeat(")", 40), "[1]", "nested deeper"},
		{"map " + strings.Repeat("x+", 300) + "x", "[1]", "limit is 400"},
		{"sum", "[1 two]", "not an integer"},
		{"take 99999999999999999999", "[1]", "too large"},
		{"map x\n| ", "[1]", "end of program"},
	}
	for _, c := range cases {
		_, err := Run(c.prog, c.in)
		if err == nil || !strings.Contains(err.Error(), c.errHas) {
			t.Errorf("Run(%q, %q): err = %v; want it to contain %q", c.prog, c.in, err, c.errHas)
		}
	}
}

func TestStepLimit(t *testing.T) {
	in := make([]int64, MaxInputLen)
	for i := range in {
		in[i] = int64(len(in) - i) // reversed: insertion sort does n^2/2 swaps
	}
	p, err := Parse("sort")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(in); !errors.Is(err, ErrStepLimit) {
		t.Errorf("sorting %d reversed numbers: err = %v, want ErrStepLimit", len(in), err)
	}
	long := "map " + strings.Repeat("x+", 100) + "x | " + "map " + strings.Repeat("x+", 80) + "x"
	p, err = Parse(long)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(in); !errors.Is(err, ErrStepLimit) {
		t.Errorf("long maps: err = %v, want ErrStepLimit", err)
	}
}

func FuzzRun(f *testing.F) {
	for _, s := range []string{"map x*x | filter x>5 | sum", "sort | take 3", "map -(-x)%2", "filter x<=3|len", ")(", "map 9223372036854775807+x"} {
		f.Add(s, "[3 -1 4 9223372036854775807]")
	}
	f.Fuzz(func(t *testing.T, prog, in string) {
		out, err := Run(prog, in) // must not panic or hang
		if err == nil && out == "" {
			t.Fatalf("Run(%q, %q) gave no output and no error", prog, in)
		}
	})
}
