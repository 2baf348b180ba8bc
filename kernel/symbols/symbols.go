package symbols

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"
)

// Symbols maps "import/path/name" to the exported symbols of that package, as interp.Use
// expects. Filled by the generated files at init; read-only afterwards.
var Symbols = map[string]map[string]reflect.Value{}

//go:embed docs.json
var docsJSON []byte

// stdlibDocsGz is the standard library's part of the doc index (gzip-compressed JSON).
//
//go:embed docs_stdlib.json.gz
var stdlibDocsGz []byte

// Doc is the documentation of one exported symbol of our packages or the standard library.
type Doc struct {
	// Decl is the declaration as source (func signature, type or value spec), no body.
	Decl string `json:"decl"`
	// Text is the doc comment.
	Text string `json:"doc,omitempty"`
}

// Docs returns the doc index, keyed "import/path.Name" and "import/path.Type.Method"; the
// package comment is under "import/path". It decodes the embedded index on each call so no
// decoded copy is shared between callers.
func Docs() (map[string]Doc, error) {
	m := map[string]Doc{}
	if err := json.Unmarshal(docsJSON, &m); err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(stdlibDocsGz))
	if err != nil {
		return nil, fmt.Errorf("standard library doc index: %w", err)
	}
	// The standard library's entries ("strings.ToUpper") never share a key with ours (module
	// paths), so decoding into the same map only adds.
	if err := json.NewDecoder(zr).Decode(&m); err != nil {
		return nil, fmt.Errorf("standard library doc index: %w", err)
	}
	return m, nil
}
