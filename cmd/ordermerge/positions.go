package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ordermerge/ordermerge/eval"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
)

// variantFolders expands --positions: a `train --variants` output folder (its variant-*
// folders, in order), or comma-separated run folders, each holding final_losses.jsonl.
func variantFolders(spec string) ([]string, error) {
	var dirs []string
	for _, d := range strings.Split(spec, ",") {
		d = strings.TrimSpace(d)
		if _, err := os.Stat(filepath.Join(d, sft.FinalLossesFile)); err == nil {
			dirs = append(dirs, d)
			continue
		}
		var found []string
		for i := 0; ; i++ {
			v := sft.VariantDir(d, i)
			if _, err := os.Stat(filepath.Join(v, sft.FinalLossesFile)); err != nil {
				break
			}
			found = append(found, v)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("--positions %s: neither a finished run (no %s) nor a folder of variants (no %s)", d, sft.FinalLossesFile, filepath.Join(sft.VariantDir(d, 0), sft.FinalLossesFile))
		}
		dirs = append(dirs, found...)
	}
	return dirs, nil
}

// readVariantLosses reads a finished run's final losses and, from its step records, the
// last epoch's positions.
func readVariantLosses(dir string) (sft.VariantLosses, error) {
	final, err := sft.ReadFinalLosses(filepath.Join(dir, sft.FinalLossesFile))
	if err != nil {
		return sft.VariantLosses{}, err
	}
	v := sft.VariantLosses{Name: dir}
	for _, f := range final {
		v.IDs = append(v.IDs, f.ID)
		v.First = append(v.First, f.FirstPosition)
		v.Losses = append(v.Losses, f.Loss)
	}
	if records, err := sft.ReadStepRecords(filepath.Join(dir, sft.RecordsFile)); err == nil && len(records) > 0 {
		last := 0
		for _, r := range records {
			last = max(last, r.Epoch)
		}
		if pos, _, err := sft.PositionLosses(final, records, last); err == nil {
			v.Last, v.LastEpoch = pos, last
		}
	}
	var state struct {
		Config sft.Config `json:"config"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, sft.TrainerStateFile)); err == nil && json.Unmarshal(b, &state) == nil {
		v.OrderSeed = state.Config.OrderSeed
		v.Name = fmt.Sprintf("%s (order seed %d)", filepath.Base(dir), v.OrderSeed)
	}
	return v, nil
}

// positionsReport joins a model's per-sample losses to the variants' positions: a CSV with one
// row per sample (id, loss, and per variant its first- and last-epoch position and the loss
// adjusted by that variant's reference) and the model's imbalance statistics as JSON beside it.
func positionsReport(model string, res *eval.Result, spec, csvPath string) (sft.ModelImbalance, error) {
	dirs, err := variantFolders(spec)
	if err != nil {
		return sft.ModelImbalance{}, err
	}
	var vs []sft.VariantLosses
	for _, d := range dirs {
		v, err := readVariantLosses(d)
		if err != nil {
			return sft.ModelImbalance{}, err
		}
		vs = append(vs, v)
	}
	ids := make([]string, len(res.Samples))
	losses := make([]float64, len(res.Samples))
	for i, s := range res.Samples {
		ids[i], losses[i] = s.ID, s.Loss
	}
	mi, err := sft.ModelImbalanceOf(model, ids, losses, vs, sft.StatsOptions{Seed: vs[0].OrderSeed})
	if err != nil {
		return mi, fmt.Errorf("%s against --positions %s: %w (evaluate the data the variants were trained on: the same --data, --split train and --limit)", model, spec, err)
	}
	_, adj, err := sft.AdjustedModelLosses(ids, losses, vs)
	if err != nil {
		return mi, err
	}
	// adj is in variant 0's sample order; the rows are in id order.
	loss := map[string]float64{}
	for i, id := range ids {
		loss[id] = losses[i]
	}
	aligned := map[string]int{}
	for i, id := range vs[0].IDs {
		aligned[id] = i
	}
	firstOf, lastOf := make([]map[string]int, len(vs)), make([]map[string]int, len(vs))
	for k, v := range vs {
		firstOf[k], lastOf[k] = map[string]int{}, map[string]int{}
		for j, id := range v.IDs {
			firstOf[k][id] = v.First[j]
			if v.Last != nil {
				lastOf[k][id] = v.Last[j]
			}
		}
	}
	order := append([]string(nil), vs[0].IDs...)
	sort.Strings(order)
	f, err := tensor.CreateAtomic(csvPath)
	if err != nil {
		return mi, err
	}
	w := csv.NewWriter(f)
	head := []string{"id", "loss"}
	for k := range vs {
		head = append(head, fmt.Sprintf("first_position_%d", k), fmt.Sprintf("last_position_%d", k), fmt.Sprintf("adjusted_loss_%d", k))
	}
	w.Write(head)
	for _, id := range order {
		row := []string{id, strconv.FormatFloat(loss[id], 'g', -1, 64)}
		for k := range vs {
			last, adjusted := "", ""
			if l, ok := lastOf[k][id]; ok {
				last = strconv.Itoa(l)
			}
			if adj != nil {
				adjusted = strconv.FormatFloat(adj[k][aligned[id]], 'g', -1, 64)
			}
			row = append(row, strconv.Itoa(firstOf[k][id]), last, adjusted)
		}
		w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Abort()
		return mi, fmt.Errorf("writing %s: %w", csvPath, err)
	}
	if err := f.Commit(); err != nil {
		return mi, err
	}
	return mi, writeJSON(strings.TrimSuffix(csvPath, filepath.Ext(csvPath))+".json", mi)
}
