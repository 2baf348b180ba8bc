package merge

import (
	"strings"
	"testing"
)

func TestLayerT(t *testing.T) {
	for _, tc := range []struct {
		name   string
		l      int
		want   float64
		legacy float64 // mergekit before fd5eb19 (2025-03)
	}{
		{"model.layers.0.mlp.up_proj.weight", 5, 0, 0},
		{"model.layers.2.mlp.up_proj.weight", 5, 0.5, 0.5},
		{"model.layers.4.self_attn.o_proj.weight", 5, 1, 1},
		{"model.layers.0.mlp.up_proj.weight", 1, 1, 1},
		{"transformer.h.3.attn.c_attn.weight", 7, 0.5, 0.5},
		{"model.embed_tokens.weight", 5, 0, 0},
		{"transformer.wte.weight", 5, 0, 0},
		{"model.norm.weight", 5, 0, 1},
		{"lm_head.weight", 5, 0, 1},
		{"model.layers_extra.weight", 5, 0, 1},
	} {
		if got := layerT(tc.name, tc.l, false); got != tc.want {
			t.Errorf("layerT(%s, %d) = %v, want %v", tc.name, tc.l, got, tc.want)
		}
		if got := layerT(tc.name, tc.l, true); got != tc.legacy {
			t.Errorf("legacy layerT(%s, %d) = %v, want %v", tc.name, tc.l, got, tc.legacy)
		}
	}
}

func TestGradientMatchesMergekit(t *testing.T) {
	v, err := parseValue(ParamSpec{Name: "t", Kind: FloatParam}, []any{0, 0.5, 1.0, 0.2}, "t")
	if err != nil {
		t.Fatal(err)
	}
	// scaled = t*(n-1); i0 = int(scaled); value = (1-frac) v[i0] + frac v[i0+1].
	for _, tc := range []struct{ t, want float64 }{{0, 0}, {1.0 / 6, 0.25}, {0.5, 0.75}, {5.0 / 6, 0.6}, {1, 0.2}} {
		got, _ := v.eval("x", tc.t)
		if d := got.num - tc.want; d > 1e-12 || d < -1e-12 {
			t.Errorf("t=%v: %v, want %v", tc.t, got.num, tc.want)
		}
	}
}

func TestParseValueForms(t *testing.T) {
	num := ParamSpec{Name: "weight", Kind: FloatParam}
	for _, tc := range []struct {
		spec ParamSpec
		v    any
		err  string
	}{
		{num, 1, ""},
		{num, "0.5", ""},
		{num, []float64{1, 2}, ""},
		{num, []Filter{{Filter: "mlp", Value: []any{1, 2}}, {Value: 3}}, ""},
		{num, []any{map[string]any{"filter": "mlp", "value": 1}}, ""},
		{num, []any{}, "empty list"},
		{num, []any{map[string]any{"value": []any{map[string]any{"value": 1}}}}, "filter lists cannot nest"},
		{num, true, "expected a number"},
		{num, nil, "has no value"},
		{ParamSpec{Name: "n", Kind: IntParam, Fixed: true}, 2.5, "expected an integer"},
		{ParamSpec{Name: "b", Kind: BoolParam}, []Filter{{Value: []any{1, 2}}}, "takes a single value"},
		{ParamSpec{Name: "c", Kind: ChoiceParam, Choices: []string{"x"}}, 1, "expected one of x"},
	} {
		_, err := parseValue(tc.spec, tc.v, "p")
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%v: %v", tc.v, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%v: got %v, want %q", tc.v, err, tc.err)
		}
	}
}
