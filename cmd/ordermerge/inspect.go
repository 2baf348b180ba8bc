package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
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

type tensorStats struct {
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
	Std    float64 `json:"std"`
	NaN    int     `json:"nan"`
	Inf    int     `json:"inf"`
	Zeroes int     `json:"zeroes"`
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
		if withStats {
			t, err := c.ReadTensor(name)
			if err != nil {
				return nil, err
			}
			if vals, err := t.Float64(); err == nil {
				it.Stats = computeStats(vals)
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

func computeStats(vals []float64) *tensorStats {
	s := &tensorStats{Min: math.Inf(1), Max: math.Inf(-1)}
	var sum, sumSq float64
	var finite int
	for _, v := range vals {
		switch {
		case math.IsNaN(v):
			s.NaN++
			continue
		case math.IsInf(v, 0):
			s.Inf++
			continue
		case v == 0:
			s.Zeroes++
		}
		finite++
		sum += v
		sumSq += v * v
		s.Min = math.Min(s.Min, v)
		s.Max = math.Max(s.Max, v)
	}
	if finite == 0 {
		s.Min, s.Max = 0, 0
		return s
	}
	s.Mean = sum / float64(finite)
	s.Std = math.Sqrt(math.Max(0, sumSq/float64(finite)-s.Mean*s.Mean))
	return s
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.4g\t%.4g\t%.4g\t%.4g\t%d/%d\n", t.Name, t.DType, tensor.FormatShape(t.Shape), tensor.FormatBytes(t.Bytes), s.Min, s.Max, s.Mean, s.Std, s.NaN, s.Inf)
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
	if c := rep.Config; c != nil {
		fmt.Fprintf(w, "config: %s, hidden %d, intermediate %d, layers %d, heads %d (kv %d), vocab %d, context %d, tied %v\n",
			c.ModelType, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.VocabSize, c.MaxPositionEmbeddings, c.TieWordEmbeddings)
	}
}
