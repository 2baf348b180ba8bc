// Package cluster runs the K order variants of a study as jobs of an existing scheduler and
// brings their results back: Slurm (a job array, one task per order seed, plus a dependent job
// that merges, evaluates and writes the report) and Kubernetes (the same plan as an Indexed
// Job plus a merge Job). The scheduler, its queue and its daemons stay the scheduler's; nothing
// here waits in a loop for work.
//
// A submission lives in one output folder, OUT:
//
//	OUT/plan.json            what runs: the train flags, the seeds, the merges, the evaluation
//	OUT/slurm/train.sbatch   the job array (one task per order seed)
//	OUT/slurm/finish.sbatch  the dependent job: ordermerge finish OUT
//	OUT/slurm/jobs.json      the job ids of every task and of the finishing job
//	OUT/logs/                one log per task (appended to across requeues) and finish.log
//	OUT/variant-I/           each task's checkpoint, records, train.log and progress.json
//	OUT/merged/NAME/         the merged checkpoints
//	OUT/report/              report.md, report.html, results.json, figures/
//
// Every task runs `ordermerge train` into its own variant folder; train resumes from the
// checkpoint it finds there, so a task that Slurm requeues (preemption, node failure) or that
// is requeued by hand after a failure continues from its last checkpoint and ends with the
// same bytes as an uninterrupted run. The finishing job refuses, naming the variant, when a
// variant is missing or incomplete.
//
// From a notebook: Submit (the CLI's flags, validated by the CLI), then Job.Watch with a
// callback that updates a display in place; interrupting the cell stops the watching, not the
// jobs (Job.Cancel is the explicit call that cancels them). Job.Variants, Job.Merges and
// Job.Results load what the jobs wrote.
package cluster
