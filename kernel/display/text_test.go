package display_test

import (
	"fmt"
	"image"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/kernel/display"
)

type point struct {
	X, Y int
	Name string
}

func TestTextSmallValuesAsFmt(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{[]int{1, 2, 3}, "[1 2 3]"},
		{point{1, 2, "p"}, "{X:1 Y:2 Name:p}"},
		{&point{3, 4, "q"}, "&{X:3 Y:4 Name:q}"},
		{map[string]int{"b": 2, "a": 1}, "map[a:1 b:2]"},
		{"a b", `"a b"`},
		{make([]float64, 1000), fmt.Sprint(make([]float64, 1000))}, // numpy's threshold: 1000 elements shown whole
	} {
		if got := display.Text(c.v); got != c.want {
			t.Errorf("Text(%T) = %.80q, want %.80q", c.v, got, c.want)
		}
	}
}

// The rule is numpy's (without its column padding): np.arange(1_000_000) prints as
// [     0      1      2 ... 999997 999998 999999],
// and np.zeros((1000, 1000)) as three rows, "...", three rows, each of three numbers,
// "...", three numbers.
func TestTextSummarisesLargeValues(t *testing.T) {
	big := make([]int, 1_000_000)
	for i := range big {
		big[i] = i
	}
	if got, want := display.Text(big), "[0 1 2 ... 999997 999998 999999]"; got != want {
		t.Errorf("1M-element slice: %.200q, want %q", got, want)
	}
	grid := make([][]float64, 1000)
	for i := range grid {
		grid[i] = make([]float64, 1000)
	}
	row := "[0 0 0 ... 0 0 0]"
	if got, want := display.Text(grid), "["+strings.Repeat(row+" ", 3)+"... "+strings.TrimSuffix(strings.Repeat(row+" ", 3), " ")+"]"; got != want {
		t.Errorf("1000x1000: %.300q, want %q", got, want)
	}
	img := image.NewRGBA(image.Rect(0, 0, 1000, 1000))
	got := display.Text(img)
	if want := "&{Pix:[0 0 0 ... 0 0 0] Stride:4000 Rect:(0,0)-(1000,1000)}"; got != want {
		t.Errorf("1000x1000 image: %.300q, want %q", got, want)
	}
	data, err := display.Bundle(img)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(data["text/plain"].(string)); n > 200 {
		t.Errorf("the image's text/plain is %d bytes", n)
	}
	m := map[int]string{}
	for i := 0; i < 2000; i++ {
		m[i] = "v"
	}
	if got, want := display.Text(m), "map[0:v 1:v 2:v ... 1997:v 1998:v 1999:v]"; got != want {
		t.Errorf("large map: %q, want %q", got, want)
	}
	// A struct of a few fields summarises only the long one.
	type run struct {
		Name   string
		Losses []float64
	}
	if got, want := display.Text(run{"r", make([]float64, 5000)}), "{Name:r Losses:[0 0 0 ... 0 0 0]}"; got != want {
		t.Errorf("struct with a long field: %q, want %q", got, want)
	}
}

type chatty struct{}

func (chatty) String() string { return strings.Repeat("x", 10<<20) }

func TestTextCapsEveryForm(t *testing.T) {
	for _, v := range []any{chatty{}, strings.Repeat("y", 10<<20)} {
		got := display.Text(v)
		if len(got) > 80<<10 || !strings.Contains(got, "bytes left out") {
			t.Errorf("%T: %d bytes of text", v, len(got))
		}
	}
}
