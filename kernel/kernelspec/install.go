package kernelspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
)

// Name is the kernel's name (its directory under kernels/).
const Name = "ordermerge"

// Options say where to install.
type Options struct {
	User   bool   // the user's Jupyter data directory
	Prefix string // PREFIX/share/jupyter/kernels
	Binary string // the ordermerge binary (default: this executable)
}

// Spec is the content of kernel.json.
type Spec struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode"`
	Env           map[string]string `json:"env,omitempty"`
	Metadata      map[string]any    `json:"metadata,omitempty"`
}

// Dir returns the kernelspec directory the options select.
func Dir(opts Options) (string, error) {
	if opts.User && opts.Prefix != "" {
		return "", errors.New("--user and --prefix exclude each other")
	}
	if opts.Prefix != "" {
		p, err := filepath.Abs(opts.Prefix)
		if err != nil {
			return "", err
		}
		return filepath.Join(p, "share", "jupyter", "kernels", Name), nil
	}
	if !opts.User && os.Geteuid() == 0 {
		return filepath.Join("/usr/local/share/jupyter/kernels", Name), nil
	}
	data := os.Getenv("JUPYTER_DATA_DIR")
	if data == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the user's Jupyter directory: %w", err)
		}
		data = filepath.Join(home, ".local", "share", "jupyter")
	}
	return filepath.Join(data, "kernels", Name), nil
}

// Install writes the kernelspec and returns its directory.
func Install(opts Options) (string, error) {
	bin := opts.Binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("find the ordermerge binary: %w", err)
		}
		bin = exe
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	if resolved, err := filepath.EvalSymlinks(bin); err == nil {
		bin = resolved
	}
	dir, err := Dir(opts)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create kernelspec directory: %w", err)
	}
	spec := Spec{
		Argv:          []string{bin, "kernel", "{connection_file}"},
		DisplayName:   "Go (ordermerge)",
		Language:      "go",
		InterruptMode: "message",
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return "", err
	}
	files := map[string][]byte{"kernel.json": append(b, '\n')}
	for _, size := range []int{32, 64} {
		var buf bytes.Buffer
		if err := png.Encode(&buf, Logo(size)); err != nil {
			return "", fmt.Errorf("encode logo: %w", err)
		}
		files[fmt.Sprintf("logo-%dx%d.png", size, size)] = buf.Bytes()
	}
	for name, data := range files {
		if err := writeAtomic(filepath.Join(dir, name), data); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// writeAtomic writes a file through a temporary file in the same directory, fsynced and
// renamed, so an interrupted install never leaves half a kernel.json.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}

// Logo draws the kernel's logo: two overlapping discs (two training orders) whose overlap is
// a third colour (the merge), on a rounded square.
func Logo(size int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	s := float64(size)
	bg := color.NRGBA{0x1f, 0x2a, 0x44, 0xff}
	a := color.NRGBA{0x00, 0xad, 0xd8, 0xff} // Go's cyan
	b := color.NRGBA{0xf2, 0x9d, 0x38, 0xff}
	both := color.NRGBA{0xf5, 0xf5, 0xf5, 0xff}
	r := 0.30 * s
	ca := [2]float64{0.38 * s, 0.5 * s}
	cb := [2]float64{0.62 * s, 0.5 * s}
	corner := 0.18 * s
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			px, py := float64(x)+0.5, float64(y)+0.5
			if !inRoundedSquare(px, py, s, corner) {
				continue
			}
			inA := math.Hypot(px-ca[0], py-ca[1]) <= r
			inB := math.Hypot(px-cb[0], py-cb[1]) <= r
			switch {
			case inA && inB:
				img.SetNRGBA(x, y, both)
			case inA:
				img.SetNRGBA(x, y, a)
			case inB:
				img.SetNRGBA(x, y, b)
			default:
				img.SetNRGBA(x, y, bg)
			}
		}
	}
	return img
}

func inRoundedSquare(x, y, s, c float64) bool {
	cx := math.Max(c, math.Min(x, s-c))
	cy := math.Max(c, math.Min(y, s-c))
	return math.Hypot(x-cx, y-cy) <= c
}
