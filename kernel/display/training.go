package display

import (
	"fmt"
	"sync"
	"time"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/study"
)

// The notebook's long calls with their live display: the same functions as sft's and study's,
// with the cell's context (so the stop button stops them) and a progress bar that works out
// the number of steps itself, updated in place.

// Train is sft.Train with the cell's context and a progress bar updated in place. A Progress
// callback already in cfg is called too.
func (d *Display) Train(model compute.Model, examples []data.Example, cfg sft.Config) (*sft.Result, error) {
	bar := d.NewProgress("training", 0)
	cfg.Progress = chainProgress(bar.trainingUpdate("training"), cfg.Progress)
	res, err := sft.Train(d.Context(), model, examples, cfg)
	bar.finish("training", err)
	return res, err
}

// TrainVariants is sft.TrainVariants with the cell's context and one progress bar over every
// variant's steps, updated in place:
//
//	results := must(display.TrainVariants(base, examples, tc, sft.VariantSeeds(2, 1), ""))
func (d *Display) TrainVariants(base compute.Model, examples []data.Example, cfg sft.Config, orderSeeds []uint64, outDir string) ([]*sft.Result, error) {
	label := fmt.Sprintf("fine-tuning %d order variants", len(orderSeeds))
	if cfg.OrderMode != "" {
		label += " (" + string(cfg.OrderMode) + ")"
	}
	bar := d.NewProgress(label, 0)
	cfg.Progress = chainProgress(bar.trainingUpdate(label), cfg.Progress)
	res, err := sft.TrainVariants(d.Context(), base, examples, cfg, orderSeeds, outDir)
	bar.finish(label, err)
	return res, err
}

// TrainingProgress returns an sft.Config.Progress callback that shows the run as a progress
// bar under label, updated in place, for calls that take a Config (cfg.Progress =
// display.TrainingProgress("pre-training")). The bar counts every variant's steps.
func (d *Display) TrainingProgress(label string) func(sft.Progress) {
	return d.NewProgress(label, 0).trainingUpdate(label)
}

// StudyProgress returns a study.Config.Progress callback that shows what a study (or
// study.BaseModel) is doing as one line updated in place, with a bar while the current stage
// counts steps (pre-training the base, fine-tuning a variant):
//
//	cfg.Progress = display.StudyProgress()
//	base, info := must(study.BaseModel(display.Context(), cfg, tok))
func (d *Display) StudyProgress() func(study.Event) {
	var mu sync.Mutex
	var bar *Progress
	stage := ""
	return func(e study.Event) {
		mu.Lock()
		defer mu.Unlock()
		if bar == nil {
			bar = d.newStatus(e.Message, e.Total)
		}
		bar.SetLabel(e.Message)
		bar.SetTotal(e.Total)
		if e.Stage != stage {
			stage = e.Stage
			bar.setNow(e.Done) // a new stage is shown at once
			return
		}
		bar.Set(e.Done)
	}
}

// trainingUpdate is the callback that moves the bar: every variant's steps in one count.
func (p *Progress) trainingUpdate(label string) func(sft.Progress) {
	return func(tp sft.Progress) {
		variants := max(tp.Variants, 1)
		head := label
		if tp.Variants > 1 {
			head = fmt.Sprintf("%s: variant %d/%d", label, tp.Variant+1, tp.Variants)
		}
		switch tp.Phase {
		case "final":
			p.SetLabel(fmt.Sprintf("%s, final losses %d/%d samples", head, tp.Step, tp.TotalSteps))
			p.Set(p.current())
		default:
			p.SetTotal(variants * tp.TotalSteps)
			p.SetLabel(fmt.Sprintf("%s, epoch %d/%d, loss %.4f", head, tp.Epoch+1, tp.Epochs, tp.Loss))
			p.Set(tp.Variant*tp.TotalSteps + tp.Step)
		}
	}
}

func chainProgress(first, second func(sft.Progress)) func(sft.Progress) {
	if second == nil {
		return first
	}
	return func(p sft.Progress) {
		first(p)
		second(p)
	}
}

// setNow moves the bar to n and shows it at once.
func (p *Progress) setNow(n int) {
	p.mu.Lock()
	p.n = n
	p.last = time.Now()
	p.mu.Unlock()
	p.push()
}

// finish shows the bar's final state: full after a success, where it stopped (and why) after
// an error or an interrupt.
func (p *Progress) finish(label string, err error) {
	if err == nil {
		p.SetLabel(label + ": done")
		p.Done()
		return
	}
	p.mu.Lock()
	p.label += " (stopped: " + err.Error() + ")"
	p.done = true
	p.mu.Unlock()
	p.push()
}
