package sft

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
)

// StepRecord is one sample's loss at one training step. Steps count from 1 (step k is the k-th
// optimizer update); epochs and positions count from 0 (Position is the sample's index in that
// epoch's order, so position 0 is the first sample seen in the epoch).
type StepRecord struct {
	Step     int     `json:"step"`
	Epoch    int     `json:"epoch"`
	Position int     `json:"position"`
	ID       string  `json:"id"`
	Loss     float64 `json:"loss"`
}

// FinalLoss is one sample's loss after training (a forward pass with no update), with its
// position in the first epoch (the paper's x axis) and the number of tokens its loss averages.
type FinalLoss struct {
	ID            string  `json:"id"`
	Loss          float64 `json:"loss"`
	FirstPosition int     `json:"first_position"`
	Tokens        int     `json:"tokens"`
}

// StepLoss is one optimizer step: the mean of its samples' losses (the loss that was
// minimised), the learning rate used, the gradient norm before clipping, the number of samples
// and of loss tokens.
type StepLoss struct {
	Step     int     `json:"step"`
	Epoch    int     `json:"epoch"`
	Loss     float64 `json:"loss"`
	LR       float64 `json:"lr"`
	GradNorm float64 `json:"grad_norm"`
	Samples  int     `json:"samples"`
	Tokens   int     `json:"tokens"`
}

// Float formatting: per-sample losses are float32 values (what the model returned), written
// with the shortest float32 representation so files stay short and read back to the same bits;
// means and rates are float64.
func f32(v float64) string { return strconv.FormatFloat(v, 'g', -1, 32) }
func f64(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// jsonString quotes s as JSON.
func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// WriteStepRecordsJSONL writes one JSON object per line: {"step","epoch","position","id","loss"}.
func WriteStepRecordsJSONL(w io.Writer, recs []StepRecord) error {
	bw := bufio.NewWriter(w)
	for _, r := range recs {
		fmt.Fprintf(bw, `{"step":%d,"epoch":%d,"position":%d,"id":%s,"loss":%s}`+"\n", r.Step, r.Epoch, r.Position, jsonString(r.ID), f32(r.Loss))
	}
	return bw.Flush()
}

// WriteStepRecordsCSV writes a header (step,epoch,position,id,loss) and one row per record,
// ready for pandas.read_csv.
func WriteStepRecordsCSV(w io.Writer, recs []StepRecord) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"step", "epoch", "position", "id", "loss"})
	for _, r := range recs {
		cw.Write([]string{strconv.Itoa(r.Step), strconv.Itoa(r.Epoch), strconv.Itoa(r.Position), r.ID, f32(r.Loss)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteFinalLossesJSONL writes {"id","loss","first_position","tokens"} per line.
func WriteFinalLossesJSONL(w io.Writer, final []FinalLoss) error {
	bw := bufio.NewWriter(w)
	for _, f := range final {
		fmt.Fprintf(bw, `{"id":%s,"loss":%s,"first_position":%d,"tokens":%d}`+"\n", jsonString(f.ID), f32(f.Loss), f.FirstPosition, f.Tokens)
	}
	return bw.Flush()
}

// WriteFinalLossesCSV writes a header (id,loss,first_position,tokens) and one row per sample.
func WriteFinalLossesCSV(w io.Writer, final []FinalLoss) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "loss", "first_position", "tokens"})
	for _, f := range final {
		cw.Write([]string{f.ID, f32(f.Loss), strconv.Itoa(f.FirstPosition), strconv.Itoa(f.Tokens)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteStepLossesCSV writes a header (step,epoch,loss,lr,grad_norm,samples,tokens) and one
// row per optimizer step: the training curve.
func WriteStepLossesCSV(w io.Writer, steps []StepLoss) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"step", "epoch", "loss", "lr", "grad_norm", "samples", "tokens"})
	for _, s := range steps {
		cw.Write([]string{strconv.Itoa(s.Step), strconv.Itoa(s.Epoch), f64(s.Loss), f64(s.LR), f64(s.GradNorm), strconv.Itoa(s.Samples), strconv.Itoa(s.Tokens)})
	}
	cw.Flush()
	return cw.Error()
}

// readJSONL decodes one T per non-empty line, naming the file and line on errors. Losses
// are stored as float32 values, so each is rounded back to float32: the value the model
// returned, bit for bit.
func readJSONL[T any](path string, loss func(*T) *float64) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var out []T
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		l := loss(&v)
		*l = float64(float32(*l))
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// ReadStepRecords reads a step-records JSONL file written by WriteStepRecordsJSONL.
func ReadStepRecords(path string) ([]StepRecord, error) {
	return readJSONL(path, func(r *StepRecord) *float64 { return &r.Loss })
}

// ReadFinalLosses reads a final-loss JSONL file written by WriteFinalLossesJSONL.
func ReadFinalLosses(path string) ([]FinalLoss, error) {
	return readJSONL(path, func(r *FinalLoss) *float64 { return &r.Loss })
}
