// Package seeded is the project's deterministic random number generator for model
// initialisation and sampling: xoshiro256** seeded through splitmix64, with a fixed output
// stream that never depends on the clock, so a seed gives the same model everywhere.
package seeded
