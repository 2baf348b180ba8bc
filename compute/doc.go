// Package compute is the contract between models and the trainer: a model is a list of named
// parameters (Param) that computes per-sample losses and their gradients for a padded batch
// of token ids (Batch). Implementations of the operations themselves live below it: the CPU
// ops in compute/cpu.
package compute
