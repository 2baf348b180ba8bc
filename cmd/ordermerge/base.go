package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ordermerge/ordermerge/study"
	"github.com/ordermerge/ordermerge/tokenizer"
)

// Names --base takes for the study's pre-trained bases (what repro and the notebooks use).
const (
	studyBase      = "study"
	studyBaseQuick = "study:quick"
)

func runBase(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("base", stderr)
	quick := fs.Bool("quick", false, "the base of repro --quick (smaller model) instead of the full study's")
	cache := fs.String("cache", "", "folder of cached base models (default: the user cache folder)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ordermerge base [--quick] [--cache DIR]")
		fmt.Fprintln(stderr, "Prints the folder of the study's pre-trained base model (a Hugging Face checkpoint with its")
		fmt.Fprintln(stderr, "tokenizer), pre-training it first when it is not cached. Fine-tune from it with")
		fmt.Fprintln(stderr, "`ordermerge train --base \"$(ordermerge base)\" ...`, or with --base study (study:quick).")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	dir, err := studyBaseDir(ctx, *quick, *cache, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, dir)
	return nil
}

// studyBaseDir returns the cached base of the study (quick: of repro --quick), pre-training
// it first when needed, with progress on w.
func studyBaseDir(ctx context.Context, quick bool, cache string, w io.Writer) (string, error) {
	cfg := study.DefaultConfig()
	if quick {
		cfg = study.QuickConfig()
	}
	cfg.CacheDir = cache
	p := newStudyProgress(w)
	cfg.Progress = p.event
	_, res, err := study.BaseModel(ctx, cfg, tokenizer.ByteLevel())
	p.finish()
	if err != nil {
		return "", err
	}
	return res.Dir, nil
}

// resolveBase turns --base study / study:quick into the cached base's folder.
func resolveBase(ctx context.Context, base string, w io.Writer) (string, error) {
	switch strings.TrimSpace(base) {
	case studyBase:
		return studyBaseDir(ctx, false, "", w)
	case studyBaseQuick:
		return studyBaseDir(ctx, true, "", w)
	}
	return base, nil
}
