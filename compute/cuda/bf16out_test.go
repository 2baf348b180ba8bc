//go:build linux

package cuda_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/ordermerge/ordermerge/compute"
)

// The ops that make matrix-product inputs write them as bf16 themselves at bf16 precision.
// Each must store exactly what the op with a float32 output followed by Cast stores: the same
// float32 value rounded to nearest even. TestBF16Outputs checks that bit for bit on both
// devices, for every op that has a bf16 output.

// bitsOf reads b (F32 or BF16) as float32 bit patterns.
func bitsOf(t *testing.T, b compute.Buf) []uint32 {
	t.Helper()
	v, err := compute.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]uint32, len(v))
	for i, x := range v {
		out[i] = math.Float32bits(x)
	}
	return out
}

// sameBits fails unless a and b hold the same bits.
func sameBits(t *testing.T, what string, a, b compute.Buf) {
	t.Helper()
	x, y := bitsOf(t, a), bitsOf(t, b)
	for i := range x {
		if x[i] != y[i] {
			t.Errorf("%s: element %d is %v, want %v (%#x, %#x)", what, i, math.Float32frombits(y[i]), math.Float32frombits(x[i]), y[i], x[i])
			return
		}
	}
}

// bf16Case runs one op twice on dev: with a float32 output then cast (want) and with a bf16
// output (got); it returns the pairs of buffers to compare bit for bit.
type bf16Case struct {
	name string
	run  func(t *testing.T, dev compute.Device, in map[string]compute.Buf) [][2]compute.Buf
}

func alloc(t *testing.T, dev compute.Device, dt compute.DType, n int) compute.Buf {
	t.Helper()
	b, err := dev.Alloc(dt, n)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cast returns src rounded to bf16 by Cast, in a new buffer.
func cast(t *testing.T, dev compute.Device, src compute.Buf) compute.Buf {
	b := alloc(t, dev, compute.BF16, src.Len())
	dev.Cast(b, src)
	return b
}

func TestBF16Outputs(t *testing.T) {
	d := newDevs(t)
	const rows, D, F = 37, 48, 40
	norm := compute.Norm{Rows: rows, D: D, Eps: 1e-5}
	attn := compute.AttentionShape{B: 2, T: 19, Heads: 4, KVHeads: 2, HeadDim: 8, Precision: compute.PrecisionBF16}
	an := attn.B * attn.T
	W := attn.QKVWidth()
	hd, maxPos := 8, 40
	inv, _ := compute.RoPEInvFreq(hd, 10000)
	tables := map[compute.Device]compute.RoPETable{}
	for _, dev := range []compute.Device{d.cpu, d.gpu} {
		tab, err := compute.NewRoPETable(dev, maxPos, inv)
		if err != nil {
			t.Fatal(err)
		}
		tables[dev] = tab
	}
	posv := make([]int32, an)
	for i := range posv {
		posv[i] = int32(i % attn.T)
	}
	inputs := map[string]pair{
		"x": d.random(compute.F32, rows*D, 1), "w": d.random(compute.F32, D, 1), "dout": d.random(compute.F32, rows*D, 1),
		"dx": d.random(compute.F32, rows*D, 1), "gu": d.random(compute.F32, 2*rows*F, 2), "dh": d.random(compute.F32, rows*F, 1),
		"qkv": d.random(compute.F32, an*W, 1), "pos": d.ints(posv),
	}
	f32 := func(t *testing.T, dev compute.Device, n int) compute.Buf { return alloc(t, dev, compute.F32, n) }
	bf := func(t *testing.T, dev compute.Device, n int) compute.Buf { return alloc(t, dev, compute.BF16, n) }
	cases := []bf16Case{
		{"rmsnorm", func(t *testing.T, dev compute.Device, in map[string]compute.Buf) [][2]compute.Buf {
			out, r1, got, r2 := f32(t, dev, rows*D), f32(t, dev, rows), bf(t, dev, rows*D), f32(t, dev, rows)
			dev.RMSNorm(out, r1, in["x"], in["w"], norm)
			dev.RMSNorm(got, r2, in["x"], in["w"], norm)
			again, againB := f32(t, dev, rows*D), bf(t, dev, rows*D)
			dev.RMSNormApply(again, in["x"], in["w"], r1, norm)
			dev.RMSNormApply(againB, in["x"], in["w"], r1, norm)
			return [][2]compute.Buf{{cast(t, dev, out), got}, {r1, r2}, {cast(t, dev, again), againB}}
		}},
		{"rmsnorm backward", func(t *testing.T, dev compute.Device, in map[string]compute.Buf) [][2]compute.Buf {
			r := f32(t, dev, rows)
			dev.RMSNorm(f32(t, dev, rows*D), r, in["x"], in["w"], norm)
			var out [][2]compute.Buf
			for _, replace := range []bool{false, true} {
				s := norm
				s.Replace = replace
				dx1, dx2, dxb := f32(t, dev, rows*D), f32(t, dev, rows*D), bf(t, dev, rows*D)
				dev.Copy(dx1, in["dx"])
				dev.Copy(dx2, in["dx"])
				dw1, dw2 := f32(t, dev, D), f32(t, dev, D)
				dev.RMSNormBackward(dx1, compute.Buf{}, dw1, in["dout"], in["x"], in["w"], r, s)
				dev.RMSNormBackward(dx2, dxb, dw2, in["dout"], in["x"], in["w"], r, s)
				out = append(out, [2]compute.Buf{dx1, dx2}, [2]compute.Buf{dw1, dw2}, [2]compute.Buf{cast(t, dev, dx1), dxb})
			}
			return out
		}},
		{"swiglu", func(t *testing.T, dev compute.Device, in map[string]compute.Buf) [][2]compute.Buf {
			h, hb := f32(t, dev, rows*F), bf(t, dev, rows*F)
			dev.SwiGLU(h, in["gu"], rows, F)
			dev.SwiGLU(hb, in["gu"], rows, F)
			dgu, h2, dgub, h2b := f32(t, dev, 2*rows*F), f32(t, dev, rows*F), bf(t, dev, 2*rows*F), bf(t, dev, rows*F)
			dev.SwiGLUBackward(dgu, h2, in["dh"], in["gu"], rows, F)
			dev.SwiGLUBackward(dgub, h2b, in["dh"], in["gu"], rows, F)
			return [][2]compute.Buf{{cast(t, dev, h), hb}, {cast(t, dev, dgu), dgub}, {cast(t, dev, h2), h2b}}
		}},
		{"attention", func(t *testing.T, dev compute.Device, in map[string]compute.Buf) [][2]compute.Buf {
			q := attn.Heads * attn.HeadDim
			out, outb := f32(t, dev, an*q), bf(t, dev, an*q)
			att := f32(t, dev, attn.ProbsSize())
			scratch := f32(t, dev, max(1, dev.AttentionScratch(attn, false)))
			dev.Attention(out, att, in["qkv"], scratch, attn)
			dev.Attention(outb, att, in["qkv"], scratch, attn)
			return [][2]compute.Buf{{cast(t, dev, out), outb}}
		}},
		{"rope", func(t *testing.T, dev compute.Device, in map[string]compute.Buf) [][2]compute.Buf {
			// The layout of the qkv gradient: q and k heads rotated, v heads copied.
			s := compute.RoPEShape{Rows: an, LD: W, Heads: attn.Heads + attn.KVHeads, HeadDim: hd}
			var out [][2]compute.Buf
			for _, inverse := range []bool{false, true} {
				x, xb := f32(t, dev, an*W), bf(t, dev, an*W)
				dev.Copy(x, in["qkv"])
				dev.RoPE(xb, x, in["pos"], tables[dev], s, inverse)
				dev.RoPE(x, x, in["pos"], tables[dev], s, inverse)
				out = append(out, [2]compute.Buf{cast(t, dev, x), xb})
			}
			// Columns on both sides of the rotated heads.
			s = compute.RoPEShape{Rows: 6, LD: 40, Col: 4, Heads: 3, HeadDim: hd}
			x, xb := f32(t, dev, 6*40), bf(t, dev, 6*40)
			dev.Copy(x, in["qkv"].Slice(0, 6*40))
			dev.RoPE(xb, x, in["pos"], tables[dev], s, true)
			kept := cast(t, dev, x) // x itself is left alone
			dev.RoPE(x, x, in["pos"], tables[dev], s, true)
			return append(out, [2]compute.Buf{cast(t, dev, x), xb}, [2]compute.Buf{cast(t, dev, in["qkv"].Slice(0, 6*40)), kept})
		}},
	}
	for _, c := range cases {
		var got [2][][2]compute.Buf
		for i, dev := range []compute.Device{d.cpu, d.gpu} {
			in := map[string]compute.Buf{}
			for k, p := range inputs {
				in[k] = p.c
				if i == 1 {
					in[k] = p.g
				}
			}
			got[i] = c.run(t, dev, in)
			for j, pr := range got[i] {
				sameBits(t, fmt.Sprintf("%s on %s, output %d", c.name, dev.Name(), j), pr[0], pr[1])
			}
		}
		// And the devices agree (bf16 outputs within one bf16 rounding step).
		for j := range got[0] {
			d.same(fmt.Sprintf("%s output %d, GPU against CPU", c.name, j), pair{got[0][j][1], got[1][j][1]}, 1e-2)
		}
	}
}
