package gorgoniamodel_test

import (
	"context"
	"fmt"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/model/gorgoniamodel"
	"github.com/ordermerge/ordermerge/sft"
)

// A gorgonia model trains under the sft trainer like any compute.Model, with the same order control.
func ExampleNew() {
	model, err := gorgoniamodel.New(gorgoniamodel.MLPSpec(6, 4, 8), 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	var exs []data.Example
	for i := 1; i <= 5; i++ {
		exs = append(exs, data.Example{ID: fmt.Sprint("n", i), Tokens: []int32{int32(i), int32(i%5 + 1)}, PromptLen: 1})
	}
	res, err := sft.Train(context.Background(), model, exs, sft.Config{Epochs: 30, BatchSize: 5, LR: 0.05, OrderSeed: 7})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("steps:", res.Steps, "params:", len(model.Params()), "learned:", res.Final[0].Loss < 0.2)
	// Output: steps: 30 params: 5 learned: true
}
