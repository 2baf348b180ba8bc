// Package data turns datasets into tokenized training examples for the trainer.
package data
