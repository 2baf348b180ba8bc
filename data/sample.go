package data

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string `json:"role"` // "system", "user" or "assistant"
	Content string `json:"content"`
}

// Case is one hidden test of a code sample: the program run on Input must print Output.
type Case struct {
	Input  string `json:"input"`
	Output string `json:"output"`
}

// Sample is one training or evaluation item before tokenization. Every format maps onto it:
// the model sees System, History and Prompt, and is trained to answer Response.
type Sample struct {
	// ID names the sample in loss records and results; see Load and Embedded for the scheme.
	ID string `json:"id"`
	// System is an optional system message.
	System string `json:"system,omitempty"`
	// History holds earlier turns of a chat, oldest first (user and assistant alternating).
	History []Message `json:"history,omitempty"`
	// Prompt is the last user turn; Response the assistant's answer to it (the reference).
	Prompt   string `json:"prompt"`
	Response string `json:"response"`
	// Tests are the hidden tests of a code sample (the pass@1 metric runs them).
	Tests []Case `json:"tests,omitempty"`
}

// Metric names, as Dataset.Metric and Score take them.
const (
	// MetricExactMatch compares the response with the reference after normalisation
	// (see Normalize). Used for instruction tasks.
	MetricExactMatch = "exact-match"
	// MetricFinalAnswer compares the number after the last "####" (GSM8K's convention).
	MetricFinalAnswer = "final-answer"
	// MetricPassAt1 runs the generated program on the sample's hidden tests; correct when all
	// pass.
	MetricPassAt1 = "pass@1"
)

// Dataset is an ordered list of samples with what is needed to score them.
type Dataset struct {
	// Name is the embedded dataset's name or the file's base name.
	Name string `json:"name"`
	// Source says where the samples came from: "embedded:arith" or a file path.
	Source string `json:"source"`
	// Format is the file layout ("alpaca", "gsm8k", "chat", "prompt-completion") or
	// "embedded".
	Format string `json:"format"`
	// Split is "train" or "test" for embedded data; for files, what the caller said.
	Split string `json:"split,omitempty"`
	// Metric scores generations for these samples (MetricExactMatch, ...).
	Metric string `json:"metric"`
	// Description says what the data tests.
	Description string   `json:"description,omitempty"`
	Samples     []Sample `json:"samples"`
	// Skipped counts malformed records left out because LoadOptions.SkipBad was set;
	// Problems describes the first few of them ("file:line: why").
	Skipped  int      `json:"skipped,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

// Len returns the number of samples.
func (d *Dataset) Len() int { return len(d.Samples) }

// Fingerprint is the SHA-256 (hex) of the samples in order, as canonical JSON: it changes when
// any sample, its ID, or the order changes, and is the same on every machine. Results can
// quote it to say exactly which data they were computed on.
func (d *Dataset) Fingerprint() string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, s := range d.Samples {
		_ = enc.Encode(s) // Sample holds only strings and slices of them: it always encodes
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Head returns a dataset with the first n samples (all if n is larger), sharing the rest of
// d's fields. Quick runs use it to cut a task down without changing its samples.
func (d *Dataset) Head(n int) *Dataset {
	c := *d
	if n < len(c.Samples) {
		c.Samples = c.Samples[:n:n]
	}
	return &c
}
