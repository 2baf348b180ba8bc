// Package sft is the order-controlled fine-tuning trainer of ordermerge.
//
// It trains any compute.Model (the Llama model of model/llama, the gorgonia adapter, the TinyModel
// defined here) on tokenized data.Examples with AdamW, a warmup + cosine/linear schedule,
// global-norm clipping and micro-batches with gradient accumulation. What sets it apart from a
// generic trainer is that the ORDER of the data is a first-class, seeded input: an order seed
// (separate from the model's init seed) and an order mode (reshuffle, fixed, batch-shuffle)
// fully determine which samples every step sees, so K variants that differ only in order can be
// trained, merged and compared (Ju et al., EMNLP 2024).
//
// The loss a step minimises is the mean, over the samples of the step, of each sample's mean
// loss over its response tokens: every sample weighs 1/n (n samples in the step) whatever its
// length or micro-batch, and those weights are what compute.Model.ForwardBackward receives. Prompt
// and padding positions carry no loss.
//
// Every step records each sample's loss with its epoch and position in that epoch, and after
// training every sample's final loss is measured, so the "training imbalance" (samples seen
// early in the first epoch end with higher loss) can be quantified: loss by position decile,
// Spearman correlation with a permutation p-value, slope and early-minus-late gap. A sample's
// final loss is mostly its difficulty, which hides a position effect from those raw
// statistics; AnalyzeImbalance removes it with K >= 2 variants trained on the same samples
// (each sample's loss minus its mean over the other variants: the difficulty-adjusted
// statistic), per variant and pooled over the variants, against the first and the last
// epoch's positions (recency is not the first-epoch effect), and ModelImbalanceOf measures a
// merged model against the variants' positions. Dynamics gives each sample's training
// dynamics (Dataset Cartography's confidence and variability).
//
// Runs are reproducible to the byte: same seeds, same backend and thread count give identical
// checkpoint files, and a run resumed from a checkpoint (parameters, AdamW moments, step and
// records) ends with the same bytes as an uninterrupted one. Long calls take a
// context.Context and stop at a step boundary. A run with a checkpoint folder holds the
// folder's lock and saves every few minutes by default (Config.CheckpointInterval), so a run
// killed outright loses at most that much; checkpoints never change the result. TrainingMemory
// estimates what a run needs before its model is built.
//
// The package depends only on the compute.Model contract (compute/cpu), data.Example (data) and the
// checkpoint format (tensor); it never imports a particular model.
package sft
