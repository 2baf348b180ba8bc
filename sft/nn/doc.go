// Package nn is the compute core of the trainer: float32 tensors, coarse operations with
// hand-written forward and backward passes, and the matmul backends behind them.
//
// It also defines the contract between models and the trainer (Param, Batch, Model), so the
// trainer in package sft never depends on a particular model.
package nn
