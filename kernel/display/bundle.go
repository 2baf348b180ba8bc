package display

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
)

// The structural interfaces a value may implement to render itself. They are declared here
// so that documentation and interpreted code can name them; producers need not import this
// package, matching the method set is enough.
type (
	// MIMEBundler returns a complete MIME bundle. []byte values for binary types
	// (image/png, image/jpeg) are base64-encoded by the kernel; other values must encode
	// as JSON.
	MIMEBundler interface{ MIMEBundle() map[string]any }
	// HTMLer renders as text/html.
	HTMLer interface{ HTML() string }
	// Markdowner renders as text/markdown.
	Markdowner interface{ Markdown() string }
	// SVGer renders as image/svg+xml.
	SVGer interface{ SVG() ([]byte, error) }
	// PNGer renders as image/png.
	PNGer interface{ PNG() ([]byte, error) }
)

// MIME types used in bundles.
const (
	MIMEText     = "text/plain"
	MIMEHTML     = "text/html"
	MIMEMarkdown = "text/markdown"
	MIMEPNG      = "image/png"
	MIMESVG      = "image/svg+xml"
	MIMEJSON     = "application/json"
)

// Bundle returns the MIME bundle (MIME type -> JSON-ready data) for v, following the rules
// in the package comment. It never panics: a method that panics or fails turns into an error.
func Bundle(v any) (data map[string]any, err error) {
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, fmt.Errorf("rendering %T panicked: %v", v, r)
		}
	}()
	data = map[string]any{}
	switch x := v.(type) {
	case MIMEBundler:
		for k, val := range x.MIMEBundle() {
			data[k] = encodeValue(k, val)
		}
	case HTMLer:
		data[MIMEHTML] = x.HTML()
	case Markdowner:
		data[MIMEMarkdown] = x.Markdown()
	case SVGer:
		b, err := x.SVG()
		if err != nil {
			return nil, fmt.Errorf("render %T as SVG: %w", v, err)
		}
		data[MIMESVG] = string(b)
	case PNGer:
		b, err := x.PNG()
		if err != nil {
			return nil, fmt.Errorf("render %T as PNG: %w", v, err)
		}
		data[MIMEPNG] = base64.StdEncoding.EncodeToString(b)
	case image.Image:
		var buf bytes.Buffer
		if err := png.Encode(&buf, x); err != nil {
			return nil, fmt.Errorf("encode %T as PNG: %w", v, err)
		}
		data[MIMEPNG] = base64.StdEncoding.EncodeToString(buf.Bytes())
	}
	if _, ok := data[MIMEText]; !ok {
		if w, ok := v.(interface{ wrapped() any }); ok {
			v = w.wrapped()
		}
		data[MIMEText] = Text(v)
	}
	return data, nil
}

// encodeValue makes one bundle entry JSON-ready: bytes of binary types become base64,
// bytes of text types become strings.
func encodeValue(mime string, v any) any {
	b, ok := v.([]byte)
	if !ok {
		return v
	}
	switch mime {
	case MIMEPNG, "image/jpeg", "image/gif", "application/pdf":
		return base64.StdEncoding.EncodeToString(b)
	case MIMEJSON:
		return json.RawMessage(b)
	}
	return string(b)
}
