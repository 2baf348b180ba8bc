// Package gorgoniamodel lets a model written as a gorgonia graph (gorgonia.org/gorgonia
// v0.9.18) be trained by the order-controlled trainer of package sft and merged by merge/.
//
// A model is a Spec: named parameters (shapes, init scale, decay flag) and a function that
// builds, for a batch shape, the per-sample losses from the parameter nodes and the batch's
// input nodes. The adapter owns everything between the two worlds: it builds and compiles one
// graph per batch shape, copies parameter values from the compute.Param slices the trainer updates
// into gorgonia tensors before a pass and adds gorgonia's gradients back afterwards, and
// initialises parameters from the project's seeded generator (gorgonia's own initialisers
// seed from the clock, which would make runs irreproducible).
//
// It lives in its own package so that the trainer itself never imports gorgonia. gorgonia is
// a modelling front end here, not an engine: its matmul is gonum's pure-Go one, so big models
// belong in model/llama.
package gorgoniamodel
