// Package study runs the paper's experiment end to end and writes its report: from one base
// model, fine-tune K variants per dataset that differ only in data order, measure the training
// imbalance, merge the variants with several methods, evaluate the single models and every
// merge, and write report.md, report.html, results.json and the figures.
//
// It sits above sft, merge and viz and only glues them: each step is also available on its
// own (sft.TrainVariants, merge.Merge, eval.Evaluate, viz.Imbalance, ...) for notebooks.
// `ordermerge repro` is this package behind flags.
//
// The base model is pre-trained by project code on fresh draws of the embedded tasks
// (data.EmbeddedCorpus: no sample of any train or test split) with loss on every token, so
// that fine-tuning starts from a model that knows the task family, as the paper's starts from
// a pre-trained LLM. It is cached by a hash of what produces it (its settings, the corpus's
// fingerprint, and a two-step probe of the trainer and the model), so later runs reuse it and
// a change to a task generator or to the trainer's arithmetic builds a new one.
//
// The imbalance is measured as the paper draws it (raw) and difficulty-adjusted (each
// sample's loss minus its mean over the other variants), pooled over the variants; the
// verdict uses the adjusted statistic, and every merge's training losses are measured against
// the variants' positions to answer whether merging flattens it.
//
// Honesty rules of the report: every number comes from results.json; spreads are shown
// (single models over their order seeds, randomised merges over merge seeds); a claim is
// called "clear" only when it holds beyond that spread, and the report says so plainly when an
// effect is absent.
package study
