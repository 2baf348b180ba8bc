package display

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Publisher sends display outputs of the running cell to the front end. A session provides
// one; update means update_display_data for displayID rather than a new output.
type Publisher interface {
	PublishDisplay(data, metadata map[string]any, displayID string, update bool) error
}

// Host is what a Display needs from the session it belongs to.
type Host struct {
	Publisher Publisher
	// Context returns the running cell's context (cancelled on interrupt).
	Context func() context.Context
	// Input asks the front end for one line of input (password hides it).
	Input func(prompt string, password bool) (string, error)
}

// Display is the set of functions cells see as package display. Its methods are registered
// with a session's interpreter as package-level functions (Show, HTML, ...), so each method's
// doc comment is the documentation of the function a cell calls.
type Display struct {
	host Host
	ids  atomic.Int64
}

// New returns a Display bound to one session.
func New(h Host) *Display { return &Display{host: h} }

// ErrNoStdin is returned by Input when the front end does not accept input requests.
var ErrNoStdin = errors.New("this front end does not accept input (allow_stdin is false)")

// Show displays v as a new output, richly when v can render itself (see the package doc).
func (d *Display) Show(v any) error {
	data, err := Bundle(v)
	if err != nil {
		return err
	}
	return d.publish(data, "", false)
}

// ShowID displays v as a new output under displayID, which Update can later replace in place.
func (d *Display) ShowID(displayID string, v any) error {
	data, err := Bundle(v)
	if err != nil {
		return err
	}
	return d.publish(data, displayID, false)
}

// Update replaces, in place, every output shown under displayID (update_display_data).
func (d *Display) Update(displayID string, v any) error {
	data, err := Bundle(v)
	if err != nil {
		return err
	}
	return d.publish(data, displayID, true)
}

// NewID returns a fresh display id for ShowID and Update.
func (d *Display) NewID() string { return uuid.NewString() }

// HTML displays an HTML fragment.
func (d *Display) HTML(html string) error {
	return d.publish(map[string]any{MIMEHTML: html, MIMEText: "[HTML]"}, "", false)
}

// Markdown displays Markdown text.
func (d *Display) Markdown(md string) error {
	return d.publish(map[string]any{MIMEMarkdown: md, MIMEText: md}, "", false)
}

// Text displays plain text as a display output (unlike fmt.Println it can be updated).
func (d *Display) Text(s string) error {
	return d.publish(map[string]any{MIMEText: s}, "", false)
}

// PNG displays PNG-encoded bytes.
func (d *Display) PNG(png []byte) error {
	return d.publish(map[string]any{MIMEPNG: base64.StdEncoding.EncodeToString(png), MIMEText: "[PNG image]"}, "", false)
}

// SVG displays an SVG document.
func (d *Display) SVG(svg string) error {
	return d.publish(map[string]any{MIMESVG: svg, MIMEText: "[SVG image]"}, "", false)
}

// Image displays an image.Image (encoded as PNG).
func (d *Display) Image(img image.Image) error { return d.Show(img) }

// JSON displays v as application/json (front ends show it as a collapsible tree).
func (d *Display) JSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("display JSON of %T: %w", v, err)
	}
	return d.publish(map[string]any{MIMEJSON: json.RawMessage(b), MIMEText: string(b)}, "", false)
}

// Context returns the running cell's context. Pass it to long compiled calls (training,
// merging, evaluation) so that interrupting the cell stops them at their next step.
func (d *Display) Context() context.Context {
	if d.host.Context == nil {
		return context.Background()
	}
	return d.host.Context()
}

// Input asks the user for one line of text.
func (d *Display) Input(prompt string) (string, error) { return d.input(prompt, false) }

// Password asks the user for one line of text without echoing it.
func (d *Display) Password(prompt string) (string, error) { return d.input(prompt, true) }

func (d *Display) input(prompt string, password bool) (string, error) {
	if d.host.Input == nil {
		return "", ErrNoStdin
	}
	return d.host.Input(prompt, password)
}

func (d *Display) publish(data map[string]any, id string, update bool) error {
	if d.host.Publisher == nil {
		return errors.New("display: no cell is running")
	}
	return d.host.Publisher.PublishDisplay(data, map[string]any{}, id, update)
}

// Progress is a progress bar shown as one output line updated in place. Updates are sent at
// most every 100 ms (and always on Done), so calling Add in a tight loop is cheap.
type Progress struct {
	d     *Display
	id    string
	label string
	total int

	mu      sync.Mutex
	n       int
	start   time.Time
	last    time.Time
	done    bool
	shownOK bool
	// message: without a total the bar is just its label (a status line, as StudyProgress
	// shows between counted stages), not a counter.
	message bool
}

// NewProgress shows a progress bar for total steps (total <= 0: an open-ended counter).
func (d *Display) NewProgress(label string, total int) *Progress {
	return d.newProgress(label, total, false)
}

// newStatus is a Progress that shows only its label while it has no total.
func (d *Display) newStatus(label string, total int) *Progress {
	return d.newProgress(label, total, true)
}

func (d *Display) newProgress(label string, total int, message bool) *Progress {
	p := &Progress{d: d, id: fmt.Sprintf("progress-%s-%d", uuid.NewString()[:8], d.ids.Add(1)),
		label: label, total: total, start: time.Now(), message: message}
	p.shownOK = d.ShowID(p.id, p.render()) == nil
	return p
}

// Add advances the bar by n steps.
func (p *Progress) Add(n int) { p.Set(p.current() + n) }

// Set moves the bar to step n.
func (p *Progress) Set(n int) {
	p.mu.Lock()
	p.n = n
	due := time.Since(p.last) >= 100*time.Millisecond || n == p.total
	if due {
		p.last = time.Now()
	}
	p.mu.Unlock()
	if due {
		p.push()
	}
}

// SetTotal changes the number of steps the bar counts to (<= 0: an open-ended counter).
func (p *Progress) SetTotal(total int) {
	p.mu.Lock()
	p.total = total
	p.mu.Unlock()
}

// SetLabel changes the text shown before the bar (shown with the next update).
func (p *Progress) SetLabel(label string) {
	p.mu.Lock()
	p.label = label
	p.mu.Unlock()
}

// Done marks the bar finished and shows its final state.
func (p *Progress) Done() {
	p.mu.Lock()
	p.done = true
	if p.total > 0 {
		p.n = p.total
	}
	p.mu.Unlock()
	p.push()
}

func (p *Progress) current() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func (p *Progress) push() {
	if p.shownOK {
		_ = p.d.Update(p.id, p.render())
	}
}

// progressView is what a Progress displays: text and HTML forms of the bar.
type progressView struct{ text, html string }

func (v progressView) MIMEBundle() map[string]any {
	return map[string]any{MIMEText: v.text, MIMEHTML: v.html}
}

func (p *Progress) render() progressView {
	p.mu.Lock()
	defer p.mu.Unlock()
	elapsed := time.Since(p.start).Round(100 * time.Millisecond)
	if p.total <= 0 && p.message {
		return progressView{p.label, "<pre>" + htmlEscape(p.label) + "</pre>"}
	}
	if p.total <= 0 {
		t := fmt.Sprintf("%s: %d (%v)", p.label, p.n, elapsed)
		return progressView{t, "<pre>" + htmlEscape(t) + "</pre>"}
	}
	frac := float64(p.n) / float64(p.total)
	if frac > 1 {
		frac = 1
	}
	const width = 30
	filled := int(frac * width)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < filled {
			bar[i] = '#'
		}
	}
	t := fmt.Sprintf("%s [%s] %d/%d (%.0f%%, %v)", p.label, bar, p.n, p.total, 100*frac, elapsed)
	h := fmt.Sprintf(`<div>%s <progress value="%d" max="%d"></progress> %d/%d (%.0f%%, %v)</div>`,
		htmlEscape(p.label), p.n, p.total, p.n, p.total, 100*frac, elapsed)
	return progressView{t, h}
}

func htmlEscape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			out = append(out, "&lt;"...)
		case '>':
			out = append(out, "&gt;"...)
		case '&':
			out = append(out, "&amp;"...)
		default:
			out = append(out, s[i])
		}
	}
	return string(out)
}

// ImportPath is the path cells import (or use without importing) to reach this package.
const ImportPath = "github.com/ordermerge/ordermerge/kernel/display"

// Exports returns the yaegi export table of this Display (its methods as package functions,
// the package's types, and the interface wrappers yaegi needs to pass interpreted values that
// implement them), keyed ImportPath + "/display" as interp.Use expects, and the MapTypes
// entries that make Show, ShowID and Update try those interfaces on interpreted values (so an
// interpreted type with an HTML method renders as HTML). Both must come from one call: yaegi
// matches MapTypes by the identity of the registered function values.
func (d *Display) Exports() (symbols map[string]map[string]reflect.Value, mapTypes map[reflect.Value][]reflect.Type) {
	show, showID, update := reflect.ValueOf(d.Show), reflect.ValueOf(d.ShowID), reflect.ValueOf(d.Update)
	symbols = map[string]map[string]reflect.Value{
		ImportPath + "/display": {
			"Show":             show,
			"ShowID":           showID,
			"Update":           update,
			"NewID":            reflect.ValueOf(d.NewID),
			"HTML":             reflect.ValueOf(d.HTML),
			"Markdown":         reflect.ValueOf(d.Markdown),
			"Text":             reflect.ValueOf(d.Text),
			"PNG":              reflect.ValueOf(d.PNG),
			"SVG":              reflect.ValueOf(d.SVG),
			"Image":            reflect.ValueOf(d.Image),
			"JSON":             reflect.ValueOf(d.JSON),
			"Context":          reflect.ValueOf(d.Context),
			"Input":            reflect.ValueOf(d.Input),
			"Password":         reflect.ValueOf(d.Password),
			"NewProgress":      reflect.ValueOf(d.NewProgress),
			"Train":            reflect.ValueOf(d.Train),
			"TrainVariants":    reflect.ValueOf(d.TrainVariants),
			"TrainingProgress": reflect.ValueOf(d.TrainingProgress),
			"StudyProgress":    reflect.ValueOf(d.StudyProgress),
			"Bundle":           reflect.ValueOf(Bundle),
			"ErrNoStdin":       reflect.ValueOf(&ErrNoStdin).Elem(),

			"Progress":    reflect.ValueOf((*Progress)(nil)),
			"MIMEBundler": reflect.ValueOf((*MIMEBundler)(nil)),
			"HTMLer":      reflect.ValueOf((*HTMLer)(nil)),
			"Markdowner":  reflect.ValueOf((*Markdowner)(nil)),
			"SVGer":       reflect.ValueOf((*SVGer)(nil)),
			"PNGer":       reflect.ValueOf((*PNGer)(nil)),

			"_MIMEBundler": reflect.ValueOf((*wrapMIMEBundler)(nil)),
			"_HTMLer":      reflect.ValueOf((*wrapHTMLer)(nil)),
			"_Markdowner":  reflect.ValueOf((*wrapMarkdowner)(nil)),
			"_SVGer":       reflect.ValueOf((*wrapSVGer)(nil)),
			"_PNGer":       reflect.ValueOf((*wrapPNGer)(nil)),
		},
	}
	ifaces := []reflect.Type{
		reflect.TypeOf((*MIMEBundler)(nil)).Elem(), reflect.TypeOf((*HTMLer)(nil)).Elem(),
		reflect.TypeOf((*Markdowner)(nil)).Elem(), reflect.TypeOf((*SVGer)(nil)).Elem(),
		reflect.TypeOf((*PNGer)(nil)).Elem(), reflect.TypeOf((*fmt.Stringer)(nil)).Elem(),
	}
	mapTypes = map[reflect.Value][]reflect.Type{show: ifaces, showID: ifaces, update: ifaces}
	return symbols, mapTypes
}

// The wrappers follow yaegi's convention: first field IValue, then one W<Method> func field
// per method; yaegi finds them as "_" + interface name in this package's symbols.
type (
	wrapMIMEBundler struct {
		IValue      any
		WMIMEBundle func() map[string]any
	}
	wrapHTMLer struct {
		IValue any
		WHTML  func() string
	}
	wrapMarkdowner struct {
		IValue    any
		WMarkdown func() string
	}
	wrapSVGer struct {
		IValue any
		WSVG   func() ([]byte, error)
	}
	wrapPNGer struct {
		IValue any
		WPNG   func() ([]byte, error)
	}
)

func (w wrapMIMEBundler) MIMEBundle() map[string]any { return w.WMIMEBundle() }
func (w wrapHTMLer) HTML() string                    { return w.WHTML() }
func (w wrapMarkdowner) Markdown() string            { return w.WMarkdown() }
func (w wrapSVGer) SVG() ([]byte, error)             { return w.WSVG() }
func (w wrapPNGer) PNG() ([]byte, error)             { return w.WPNG() }

// wrapped returns the interpreted value inside a wrapper, whose text/plain form is the
// value's own (not the wrapper's fields).
func (w wrapMIMEBundler) wrapped() any { return w.IValue }
func (w wrapHTMLer) wrapped() any      { return w.IValue }
func (w wrapMarkdowner) wrapped() any  { return w.IValue }
func (w wrapSVGer) wrapped() any       { return w.IValue }
func (w wrapPNGer) wrapped() any       { return w.IValue }
