package merge

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"strings"
	"time"

	"github.com/ordermerge/ordermerge/tensor"
)

// Values holds one number per model. A model that lacks the tensor, or a number that does not
// apply, is NaN; JSON writes it as null.
type Values []float64

// MarshalJSON writes NaN as null (JSON has no NaN).
func (v Values) MarshalJSON() ([]byte, error) {
	if v == nil {
		return []byte("null"), nil
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			b.WriteString("null")
			continue
		}
		enc, _ := json.Marshal(x)
		b.Write(enc)
	}
	b.WriteByte(']')
	return []byte(b.String()), nil
}

// UnmarshalJSON reads null as NaN.
func (v *Values) UnmarshalJSON(b []byte) error {
	var raw []*float64
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		*v = nil
		return nil
	}
	out := make(Values, len(raw))
	for i, x := range raw {
		if x == nil {
			out[i] = math.NaN()
		} else {
			out[i] = *x
		}
	}
	*v = out
	return nil
}

// TensorReport describes how one tensor was merged. Per-model slices are indexed like
// Report.Models.
type TensorReport struct {
	Name     string `json:"name"`
	Shape    []int  `json:"shape"`
	DType    string `json:"dtype"`
	Elements int64  `json:"elements"`
	// Taken is the fraction of the elements copied from each model (selecting methods only).
	Taken Values `json:"taken,omitempty"`
	// KeptBase is the fraction of the elements where resampling found no model differing from
	// the base and kept the base's value.
	KeptBase float64 `json:"kept_base,omitempty"`
	// BaseEqual is the fraction of each model's elements equal to the base's: where the model
	// did not move in fine-tuning, and where resampling acts (nil without a base).
	BaseEqual Values `json:"base_equal,omitempty"`
	// Distance is each model's L2 distance to the merged tensor (as stored, after rounding to
	// the output dtype).
	Distance Values `json:"distance"`
	// Note says anything special: a copied tensor, slerp's angle, model stock's ratio.
	Note string `json:"note,omitempty"`
	// Source, kept only when Options.KeepSources asks for it (selecting methods, in-memory
	// merges), gives for every element the index of the model it was taken from, or 255 where
	// the base value was kept: the data of a selection map.
	Source []uint8 `json:"-"`
}

// Report describes a merge: per tensor, and Total over all merged elements (fractions
// weighted by elements, distances combined as the L2 norm over all tensors).
type Report struct {
	Method   string         `json:"method"`
	Base     string         `json:"base,omitempty"`
	Models   []string       `json:"models"`
	Seed     uint64         `json:"seed"`
	Output   string         `json:"output,omitempty"`
	Tensors  []TensorReport `json:"tensors"`
	Total    TensorReport   `json:"total"`
	Bytes    int64          `json:"bytes"`
	Elapsed  time.Duration  `json:"elapsed_ns"`
	Selected bool           `json:"selecting"`
}

func (s *tensorStats) report(tp *tensorPlan, k int, models []input, hasBase, selecting bool) TensorReport {
	r := TensorReport{Name: tp.name, Shape: tp.shape, DType: tp.outDType.String(), Elements: int64(tp.numel), Note: tp.note, Source: s.sources}
	nan := func() Values {
		v := make(Values, k)
		for i := range v {
			v[i] = math.NaN()
		}
		return v
	}
	frac := func(c int64) float64 {
		if s.n == 0 {
			return 0
		}
		return float64(c) / float64(s.n)
	}
	r.Distance = nan()
	if hasBase {
		r.BaseEqual = nan()
	}
	if selecting {
		r.Taken = nan()
		r.KeptBase = frac(s.keptBase)
	}
	for i, in := range models {
		m := in.slot
		r.Distance[m] = math.Sqrt(s.dist2[i])
		if hasBase {
			r.BaseEqual[m] = frac(s.baseEq[i])
		}
		if selecting {
			r.Taken[m] = frac(s.taken[i])
		}
	}
	return r
}

// total combines the tensor reports.
func total(tensors []TensorReport, k int) TensorReport {
	t := TensorReport{Name: "total"}
	var takenN, baseN []float64
	var takenSum, baseSum, dist2 []float64
	var keptSum float64
	anyTaken, anyBase := false, false
	takenN, baseN = make([]float64, k), make([]float64, k)
	takenSum, baseSum, dist2 = make([]float64, k), make([]float64, k), make([]float64, k)
	distSeen := make([]bool, k)
	var selElems float64
	for _, r := range tensors {
		t.Elements += r.Elements
		n := float64(r.Elements)
		for i := 0; i < k; i++ {
			if i < len(r.Taken) && !math.IsNaN(r.Taken[i]) {
				anyTaken = true
				takenSum[i] += r.Taken[i] * n
				takenN[i] += n
			}
			if i < len(r.BaseEqual) && !math.IsNaN(r.BaseEqual[i]) {
				anyBase = true
				baseSum[i] += r.BaseEqual[i] * n
				baseN[i] += n
			}
			if i < len(r.Distance) && !math.IsNaN(r.Distance[i]) {
				dist2[i] += r.Distance[i] * r.Distance[i]
				distSeen[i] = true
			}
		}
		if r.Taken != nil {
			keptSum += r.KeptBase * n
			selElems += n
		}
	}
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return math.NaN()
		}
		return a / b
	}
	t.Distance = make(Values, k)
	for i := range t.Distance {
		t.Distance[i] = math.NaN()
		if distSeen[i] {
			t.Distance[i] = math.Sqrt(dist2[i])
		}
	}
	if anyTaken {
		t.Taken = make(Values, k)
		for i := range t.Taken {
			t.Taken[i] = ratio(takenSum[i], takenN[i])
		}
		if selElems > 0 {
			t.KeptBase = keptSum / selElems
		}
	}
	if anyBase {
		t.BaseEqual = make(Values, k)
		for i := range t.BaseEqual {
			t.BaseEqual[i] = ratio(baseSum[i], baseN[i])
		}
	}
	return t
}

func newReport(p *plan, tensors []TensorReport, elapsed time.Duration) *Report {
	r := &Report{Method: p.info.Name, Base: p.baseName, Models: append([]string(nil), p.labels...), Seed: p.seed,
		Tensors: tensors, Elapsed: elapsed, Selected: p.info.Selecting}
	if !p.info.Randomised {
		r.Seed = 0
	}
	r.Total = total(tensors, len(p.labels))
	for _, tp := range p.tensors {
		size, _ := tensor.ByteSize(tp.outDType, tp.shape)
		r.Bytes += size
	}
	return r
}

// JSON returns the report as indented JSON.
func (r *Report) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteJSON writes the report as JSON to path, atomically.
func (r *Report) WriteJSON(path string) error {
	b, err := r.JSON()
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return tensor.WriteFileAtomic(path, b)
}

func pct(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*x)
}

func num(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.4g", x)
}

func at(v Values, i int) float64 {
	if i < len(v) {
		return v[i]
	}
	return math.NaN()
}

// summaryRows are the per-model rows of the totals table: model, taken, base-equal, distance.
func (r *Report) summaryRows() [][]string {
	var rows [][]string
	for i, m := range r.Models {
		row := []string{m}
		if r.Total.Taken != nil {
			row = append(row, pct(at(r.Total.Taken, i)))
		}
		if r.Total.BaseEqual != nil {
			row = append(row, pct(at(r.Total.BaseEqual, i)))
		}
		row = append(row, num(at(r.Total.Distance, i)))
		rows = append(rows, row)
	}
	return rows
}

func (r *Report) summaryHeader() []string {
	h := []string{"model"}
	if r.Total.Taken != nil {
		h = append(h, "taken")
	}
	if r.Total.BaseEqual != nil {
		h = append(h, "equal to base")
	}
	return append(h, "L2 distance to result")
}

func (r *Report) headline() string {
	s := fmt.Sprintf("%s merge of %d models", r.Method, len(r.Models))
	if r.Base != "" {
		s += " on base " + r.Base
	}
	s += fmt.Sprintf(": %d tensors, %d elements, %s", len(r.Tensors), r.Total.Elements, tensor.FormatBytes(r.Bytes))
	if r.Seed != 0 || r.Selected {
		s += fmt.Sprintf(", seed %d", r.Seed)
	}
	if r.Total.Taken != nil && r.Total.KeptBase > 0 {
		s += fmt.Sprintf(", base kept in %s of elements", pct(r.Total.KeptBase))
	}
	return s
}

// tensorRow is one tensor's row: name, shape, then per model the same columns as the totals.
func (r *Report) tensorHeader() []string {
	h := []string{"tensor", "shape"}
	for _, m := range r.Models {
		if r.Total.Taken != nil {
			h = append(h, m+" taken")
		}
		if r.Total.BaseEqual != nil {
			h = append(h, m+" = base")
		}
		h = append(h, m+" dist")
	}
	return append(h, "note")
}

func (r *Report) tensorRow(t TensorReport) []string {
	row := []string{t.Name, tensor.FormatShape(t.Shape)}
	for i := range r.Models {
		if r.Total.Taken != nil {
			row = append(row, pct(at(t.Taken, i)))
		}
		if r.Total.BaseEqual != nil {
			row = append(row, pct(at(t.BaseEqual, i)))
		}
		row = append(row, num(at(t.Distance, i)))
	}
	return append(row, t.Note)
}

// String is a short text summary: the headline and the per-model totals.
func (r *Report) String() string {
	var b strings.Builder
	b.WriteString(r.headline())
	b.WriteByte('\n')
	rows := append([][]string{r.summaryHeader()}, r.summaryRows()...)
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for _, row := range rows {
		for i, c := range row {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Markdown renders the report as Markdown tables (a notebook shows it as text/markdown).
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**\n\n", mdEscape(r.headline()))
	mdTable(&b, r.summaryHeader(), r.summaryRows())
	if len(r.Tensors) > 0 {
		b.WriteString("\n")
		rows := make([][]string, len(r.Tensors))
		for i, t := range r.Tensors {
			rows[i] = r.tensorRow(t)
		}
		mdTable(&b, r.tensorHeader(), rows)
	}
	return b.String()
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "*", "\\*", "_", "\\_").Replace(s)
}

func mdTable(b *strings.Builder, header []string, rows [][]string) {
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + mdEscape(c) + " |")
		}
		b.WriteString("\n")
	}
	line(header)
	b.WriteString("|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		line(r)
	}
}

// HTML renders the report as HTML tables (a notebook shows it as text/html): the totals, then
// the per-tensor table folded under a <details>.
func (r *Report) HTML() string {
	var b strings.Builder
	b.WriteString(`<div class="ordermerge-merge-report">`)
	fmt.Fprintf(&b, "<p><b>%s</b></p>", html.EscapeString(r.headline()))
	htmlTable(&b, r.summaryHeader(), r.summaryRows())
	if len(r.Tensors) > 0 {
		fmt.Fprintf(&b, "<details><summary>%d tensors</summary>", len(r.Tensors))
		rows := make([][]string, len(r.Tensors))
		for i, t := range r.Tensors {
			rows[i] = r.tensorRow(t)
		}
		htmlTable(&b, r.tensorHeader(), rows)
		b.WriteString("</details>")
	}
	b.WriteString("</div>")
	return b.String()
}

func htmlTable(b *strings.Builder, header []string, rows [][]string) {
	b.WriteString("<table><thead><tr>")
	for _, h := range header {
		fmt.Fprintf(b, "<th>%s</th>", html.EscapeString(h))
	}
	b.WriteString("</tr></thead><tbody>")
	for _, row := range rows {
		b.WriteString("<tr>")
		for _, c := range row {
			fmt.Fprintf(b, "<td>%s</td>", html.EscapeString(c))
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</tbody></table>")
}
