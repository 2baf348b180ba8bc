package session

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"strings"
)

// chunk is a run of consecutive top-level declarations, or of statements, of one cell.
type chunk struct {
	decl       bool
	start, end int // byte offsets in the cell
	line, col  int // 1-based position of start in the cell
}

// SyntaxError is a parse error at a position of the cell.
type SyntaxError struct {
	Line, Col int
	Msg       string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

// splitCell cuts src into chunks at top-level statement boundaries. It scans tokens rather
// than parsing because a cell mixes declarations and statements, which no single Go grammar
// rule accepts.
func splitCell(src string) ([]chunk, error) {
	fset := token.NewFileSet()
	file := fset.AddFile("cell", -1, len(src))
	var s scanner.Scanner
	var scanErr *SyntaxError
	s.Init(file, []byte(src), func(pos token.Position, msg string) {
		if scanErr == nil {
			scanErr = &SyntaxError{pos.Line, pos.Column, msg}
		}
	}, 0)
	type seg struct {
		start, end int
		first      token.Token
		second     token.Token
		count      int
		assign     bool // has an = (a var with values)
	}
	var segs []seg
	var cur seg
	depth := 0
	flush := func() {
		if cur.count > 0 {
			segs = append(segs, cur)
		}
		cur = seg{}
	}
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		off := file.Offset(pos)
		if tok == token.SEMICOLON && depth == 0 {
			flush()
			continue
		}
		switch tok {
		case token.LPAREN, token.LBRACK, token.LBRACE:
			depth++
		case token.RPAREN, token.RBRACK, token.RBRACE:
			depth--
			if depth < 0 {
				p := fset.Position(pos)
				return nil, &SyntaxError{p.Line, p.Column, "unexpected " + tok.String()}
			}
		}
		if tok == token.ASSIGN {
			cur.assign = true
		}
		if cur.count == 0 {
			cur.start, cur.first = off, tok
		} else if cur.count == 1 {
			cur.second = tok
		}
		cur.count++
		n := len(lit)
		if n == 0 || tok == token.SEMICOLON {
			n = len(tok.String())
		}
		cur.end = min(off+n, len(src)) // an automatic semicolon at the end has no text
	}
	flush()
	if scanErr != nil {
		return nil, scanErr
	}
	var chunks []chunk
	for _, sg := range segs {
		decl := false
		switch sg.first {
		case token.IMPORT, token.TYPE, token.CONST:
			decl = true
		case token.VAR:
			// A var with values runs as a statement: yaegi's declaration mode cannot initialise
			// a variable from a variable of an earlier cell ("variable definition loop"). One
			// without values stays a declaration, which functions of the cell may use before it.
			decl = !sg.assign
		case token.FUNC:
			// func name(...) is a declaration; func (r T) M() and a func literal both start
			// with "func (": only a parse tells them apart.
			decl = sg.second == token.IDENT || isFuncDecl(src[sg.start:sg.end])
		}
		if n := len(chunks); n > 0 && chunks[n-1].decl == decl {
			chunks[n-1].end = sg.end
			continue
		}
		line, col := lineCol(src, sg.start)
		chunks = append(chunks, chunk{decl: decl, start: sg.start, end: sg.end, line: line, col: col})
	}
	return chunks, nil
}

func isFuncDecl(text string) bool {
	f, err := parser.ParseFile(token.NewFileSet(), "", "package p;"+text, parser.SkipObjectResolution)
	if err != nil || len(f.Decls) != 1 {
		return false
	}
	_, ok := f.Decls[0].(*ast.FuncDecl)
	return ok
}

// lineCol returns the 1-based line and column (in bytes) of offset off in src.
func lineCol(src string, off int) (int, int) {
	line := 1 + strings.Count(src[:off], "\n")
	col := off + 1
	if i := strings.LastIndexByte(src[:off], '\n'); i >= 0 {
		col = off - i
	}
	return line, col
}

// placed returns text positioned so that, inside the source yaegi compiles, it starts at the
// cell's line+1 and column col: yaegi's own wrapper occupies line 1, so reported line numbers
// are the cell's plus one (see cellPos).
func placed(text string, line, col int) string {
	return strings.Repeat("\n", line) + strings.Repeat(" ", col-1) + text
}

// Parse wrappers: the prefix each kind of chunk gets so go/parser sees what yaegi compiles,
// with the same line numbers.
const (
	declPrefix = "package main;"
	stmtPrefix = "package main; func _() {"
)

// parseChunk parses a placed chunk. For statements it returns the body of the wrapper func.
func parseChunk(fset *token.FileSet, placedSrc string, decl bool) (*ast.File, int, error) {
	if decl {
		f, err := parser.ParseFile(fset, "", declPrefix+placedSrc, parser.ParseComments)
		return f, len(declPrefix), err
	}
	f, err := parser.ParseFile(fset, "", stmtPrefix+placedSrc+"\n}", parser.ParseComments)
	return f, len(stmtPrefix), err
}

// stmtBody returns the statements of a parsed statement chunk.
func stmtBody(f *ast.File) []ast.Stmt {
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
			return fd.Body.List
		}
	}
	return nil
}

// firstSyntaxError converts a go/parser error on a placed chunk to cell coordinates.
func firstSyntaxError(err error) *SyntaxError {
	if list, ok := err.(scanner.ErrorList); ok && len(list) > 0 {
		p := list[0].Pos
		return &SyntaxError{p.Line - 1, p.Column, list[0].Msg}
	}
	return &SyntaxError{1, 1, err.Error()}
}
