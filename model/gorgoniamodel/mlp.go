package gorgoniamodel

import (
	"math"

	G "gorgonia.org/gorgonia"
)

// MLPSpec is a small example model: each token's one-hot goes through an embedding, a tanh
// hidden layer and an output layer to next-token logits (a neural bigram model). Weights are
// stored in-by-out (rows times W, as gorgonia multiplies).
func MLPSpec(vocab, embed, hidden int) Spec {
	return Spec{
		Vocab: vocab,
		Params: []ParamSpec{
			{Name: "embed.weight", Shape: []int{vocab, embed}, InitStd: 1},
			{Name: "hidden.weight", Shape: []int{embed, hidden}, InitStd: 1 / math.Sqrt(float64(embed))},
			{Name: "hidden.bias", Shape: []int{hidden}, NoDecay: true},
			{Name: "out.weight", Shape: []int{hidden, vocab}, InitStd: 1 / math.Sqrt(float64(hidden))},
			{Name: "out.bias", Shape: []int{vocab}, NoDecay: true},
		},
		Loss: mlpLoss,
	}
}

func mlpLoss(g *G.ExprGraph, p []*G.Node, in Inputs) (*G.Node, error) {
	emb, err := G.Mul(in.X, p[0])
	if err != nil {
		return nil, err
	}
	pre, err := G.Mul(emb, p[1])
	if err != nil {
		return nil, err
	}
	pre, err = G.BroadcastAdd(pre, p[2], nil, []byte{0})
	if err != nil {
		return nil, err
	}
	h, err := G.Tanh(pre)
	if err != nil {
		return nil, err
	}
	logits, err := G.Mul(h, p[3])
	if err != nil {
		return nil, err
	}
	logits, err = G.BroadcastAdd(logits, p[4], nil, []byte{0})
	if err != nil {
		return nil, err
	}
	return CrossEntropy(logits, in)
}
