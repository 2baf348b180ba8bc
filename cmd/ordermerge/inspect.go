package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/ordermerge/ordermerge/tensor"
)

type inspectTensor struct {
	Name  string       `json:"name"`
	DType string       `json:"dtype"`
	Shape []int        `json:"shape"`
	Numel int          `json:"numel"`
	Bytes int64        `json:"bytes"`
	File  string       `json:"file"`
	Stats *tensorStats `json:"stats,omitempty"`
}

// tensorStats summarises a tensor's values. Min, Max, Mean and Std are over the finite values
// and nil (null in JSON, "-" in the table) when there are none: an all-NaN tensor has no
// minimum, not a minimum of 0.
type tensorStats struct {
	Min    *float64 `json:"min"`
	Max    *float64 `json:"max"`
	Mean   *float64 `json:"mean"`
	Std    *float64 `json:"std"`
	NaN    int64    `json:"nan"`
	Inf    int64    `json:"inf"`
	Zeroes int64    `json:"zeroes"`
}

type inspectReport struct {
	Path        string                       `json:"path"`
	Files       []string                     `json:"files"`
	Tensors     []inspectTensor              `json:"tensors"`
	TotalBytes  int64                        `json:"total_bytes"`
	TotalParams int64                        `json:"total_params"`
	ByDType     map[string]int64             `json:"params_by_dtype"`
	Metadata    map[string]map[string]string `json:"metadata"`
	Config      *tensor.Config               `json:"config,omitempty"`
	// NonFinite names the tensors holding NaN or infinite values (with --stats).
	NonFinite []string `json:"non_finite_tensors,omitempty"`
}

func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("inspect", stderr)
	asJSON := fs.Bool("json", false, "print a JSON report for machines")
	stats := fs.Bool("stats", false, "also read every tensor and print min/max/mean/std and NaN/Inf counts")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ordermerge inspect [--json] [--stats] PATH")
		fmt.Fprintln(stderr, "PATH is a .safetensors file or a Hugging Face checkpoint folder.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want exactly one PATH, got %d arguments", fs.NArg())
	}
	rep, err := inspectPath(ctx, fs.Arg(0), *stats)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printInspect(stdout, rep, *stats)
	return nil
}

func inspectPath(ctx context.Context, path string, withStats bool) (*inspectReport, error) {
	c, err := tensor.OpenCheckpoint(path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	rep := &inspectReport{Path: path, ByDType: map[string]int64{}, Metadata: map[string]map[string]string{}, Config: c.Config}
	for _, f := range c.Files() {
		rep.Files = append(rep.Files, filepath.Base(f))
	}
	for _, name := range c.Names() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e, _ := c.Entry(name)
		r, _ := c.Reader(name)
		n, _ := tensor.Numel(e.Shape)
		it := inspectTensor{Name: name, DType: e.DType.String(), Shape: e.Shape, Numel: n, Bytes: e.Size, File: filepath.Base(r.Path())}
		if it.Shape == nil {
			it.Shape = []int{}
		}
		if withStats && e.DType.Bits() > 0 {
			st, err := streamStats(ctx, r, e)
			if err != nil {
				return nil, err
			}
			it.Stats = st
			if st != nil && st.NaN+st.Inf > 0 {
				rep.NonFinite = append(rep.NonFinite, name)
			}
		}
		rep.Tensors = append(rep.Tensors, it)
		rep.TotalBytes += e.Size
		rep.TotalParams += int64(n)
		rep.ByDType[it.DType] += int64(n)
	}
	for _, f := range c.Files() {
		r, err := tensor.Open(f)
		if err != nil {
			return nil, err
		}
		if m := r.Metadata(); len(m) > 0 {
			rep.Metadata[filepath.Base(f)] = m
		}
		r.Close()
	}
	return rep, nil
}

// statsChunk is how many bytes of a tensor are decoded at a time: memory stays bounded
// whatever the tensor's size.
const statsChunk = 1 << 20

// streamStats reads the tensor in chunks and summarises its values (Welford's running mean and
// variance, exact for any length). A dtype without a numeric decoding gives nil stats.
func streamStats(ctx context.Context, r *tensor.Reader, e tensor.Entry) (*tensorStats, error) {
	sec, err := r.Section(e.Name)
	if err != nil {
		return nil, err
	}
	elem := int64(e.DType.Size())
	if elem == 0 {
		return nil, nil
	}
	buf := make([]byte, max(statsChunk/elem, 1)*elem)
	var acc statsAcc
	for off := int64(0); off < e.Size; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(int64(len(buf)), e.Size-off)
		if _, err := sec.ReadAt(buf[:n], off); err != nil {
			return nil, fmt.Errorf("%s: reading tensor %q at byte %d: %w", r.Path(), e.Name, off, err)
		}
		vals, err := tensor.DecodeFloat64(buf[:n], e.DType)
		if err != nil {
			return nil, nil // not a numeric dtype: no statistics
		}
		acc.add(vals)
		off += n
	}
	return acc.stats(), nil
}

// statsAcc accumulates tensorStats over chunks.
type statsAcc struct {
	finite         int64
	mean, m2       float64
	minV, maxV     float64
	nan, inf, zero int64
}

func (a *statsAcc) add(vals []float64) {
	for _, v := range vals {
		switch {
		case math.IsNaN(v):
			a.nan++
			continue
		case math.IsInf(v, 0):
			a.inf++
			continue
		case v == 0:
			a.zero++
		}
		if a.finite == 0 || v < a.minV {
			a.minV = v
		}
		if a.finite == 0 || v > a.maxV {
			a.maxV = v
		}
		a.finite++
		d := v - a.mean
		a.mean += d / float64(a.finite)
		a.m2 += d * (v - a.mean)
	}
}

func (a *statsAcc) stats() *tensorStats {
	s := &tensorStats{NaN: a.nan, Inf: a.inf, Zeroes: a.zero}
	if a.finite == 0 {
		return s
	}
	std := math.Sqrt(a.m2 / float64(a.finite))
	s.Min, s.Max, s.Mean, s.Std = &a.minV, &a.maxV, &a.mean, &std
	return s
}

// statCell formats an optional statistic for the table.
func statCell(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.4g", *v)
}

func printInspect(w io.Writer, rep *inspectReport, withStats bool) {
	fmt.Fprintf(w, "%s: %d tensors in %d file(s)\n\n", rep.Path, len(rep.Tensors), len(rep.Files))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if withStats {
		fmt.Fprintln(tw, "NAME\tDTYPE\tSHAPE\tSIZE\tMIN\tMAX\tMEAN\tSTD\tNAN/INF")
	} else {
		fmt.Fprintln(tw, "NAME\tDTYPE\tSHAPE\tSIZE\tFILE")
	}
	for _, t := range rep.Tensors {
		if withStats && t.Stats != nil {
			s := t.Stats
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\n", t.Name, t.DType, tensor.FormatShape(t.Shape), tensor.FormatBytes(t.Bytes), statCell(s.Min), statCell(s.Max), statCell(s.Mean), statCell(s.Std), s.NaN, s.Inf)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.DType, tensor.FormatShape(t.Shape), tensor.FormatBytes(t.Bytes), t.File)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\ntotal: %d parameters, %s", rep.TotalParams, tensor.FormatBytes(rep.TotalBytes))
	dts := make([]string, 0, len(rep.ByDType))
	for d := range rep.ByDType {
		dts = append(dts, d)
	}
	sort.Strings(dts)
	for i, d := range dts {
		sep := ", "
		if i == 0 {
			sep = " ("
		}
		fmt.Fprintf(w, "%s%s %d", sep, d, rep.ByDType[d])
	}
	if len(dts) > 0 {
		fmt.Fprint(w, ")")
	}
	fmt.Fprintln(w)
	files := make([]string, 0, len(rep.Metadata))
	for f := range rep.Metadata {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		keys := make([]string, 0, len(rep.Metadata[f]))
		for k := range rep.Metadata[f] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(w, "metadata (%s):", f)
		for _, k := range keys {
			fmt.Fprintf(w, " %s=%q", k, rep.Metadata[f][k])
		}
		fmt.Fprintln(w)
	}
	if len(rep.NonFinite) > 0 {
		var parts []string
		for _, t := range rep.Tensors {
			if t.Stats != nil && t.Stats.NaN+t.Stats.Inf > 0 {
				parts = append(parts, fmt.Sprintf("%s (%d NaN, %d Inf)", t.Name, t.Stats.NaN, t.Stats.Inf))
			}
		}
		fmt.Fprintf(w, "not finite: %d of %d tensors hold NaN or infinite values: %s\n", len(rep.NonFinite), len(rep.Tensors), strings.Join(parts, ", "))
	}
	if c := rep.Config; c != nil {
		fmt.Fprintf(w, "config: %s, hidden %d, intermediate %d, layers %d, heads %d (kv %d), vocab %d, context %d, tied %v\n",
			c.ModelType, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.VocabSize, c.MaxPositionEmbeddings, c.TieWordEmbeddings)
	}
}
