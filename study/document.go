package study

import (
	"fmt"
	"html"
	"strings"
)

// A document is the report's content, rendered once as Markdown and once as HTML from the
// same blocks, so the two versions can never disagree.
type document []block

type block interface {
	markdown(*strings.Builder)
	html(*strings.Builder)
}

type heading struct {
	level int
	text  string
}

type paragraph string

type bullets []string

type table struct {
	header []string
	rows   [][]string
}

type figure struct {
	path, caption string
}

func (h heading) markdown(sb *strings.Builder) {
	fmt.Fprintf(sb, "%s %s\n\n", strings.Repeat("#", h.level), h.text)
}

func (h heading) html(sb *strings.Builder) {
	fmt.Fprintf(sb, "<h%d>%s</h%d>\n", h.level, html.EscapeString(h.text), h.level)
}

func (p paragraph) markdown(sb *strings.Builder) { sb.WriteString(string(p) + "\n\n") }

func (p paragraph) html(sb *strings.Builder) {
	fmt.Fprintf(sb, "<p>%s</p>\n", inlineHTML(string(p)))
}

func (b bullets) markdown(sb *strings.Builder) {
	for _, item := range b {
		fmt.Fprintf(sb, "- %s\n", item)
	}
	sb.WriteString("\n")
}

func (b bullets) html(sb *strings.Builder) {
	sb.WriteString("<ul>\n")
	for _, item := range b {
		fmt.Fprintf(sb, "<li>%s</li>\n", inlineHTML(item))
	}
	sb.WriteString("</ul>\n")
}

func (t table) markdown(sb *strings.Builder) {
	fmt.Fprintf(sb, "| %s |\n|", strings.Join(t.header, " | "))
	for i := range t.header {
		if i == 0 {
			sb.WriteString("---|")
		} else {
			sb.WriteString("---:|")
		}
	}
	sb.WriteString("\n")
	for _, r := range t.rows {
		fmt.Fprintf(sb, "| %s |\n", strings.Join(r, " | "))
	}
	sb.WriteString("\n")
}

func (t table) html(sb *strings.Builder) {
	sb.WriteString("<table>\n<tr>")
	for _, h := range t.header {
		fmt.Fprintf(sb, "<th>%s</th>", inlineHTML(h))
	}
	sb.WriteString("</tr>\n")
	for _, r := range t.rows {
		sb.WriteString("<tr>")
		for i, cell := range r {
			align := ""
			if i > 0 {
				align = ` class="num"`
			}
			fmt.Fprintf(sb, "<td%s>%s</td>", align, inlineHTML(cell))
		}
		sb.WriteString("</tr>\n")
	}
	sb.WriteString("</table>\n")
}

func (f figure) markdown(sb *strings.Builder) {
	fmt.Fprintf(sb, "![%s](%s)\n\n*%s*\n\n", f.caption, f.path, f.caption)
}

func (f figure) html(sb *strings.Builder) {
	fmt.Fprintf(sb, "<figure><img src=\"%s\" alt=\"%s\"><figcaption>%s</figcaption></figure>\n",
		html.EscapeString(f.path), html.EscapeString(f.caption), html.EscapeString(f.caption))
}

// inlineHTML escapes text and turns the two Markdown marks the report uses (**bold** and
// `code`) into HTML.
func inlineHTML(s string) string {
	s = html.EscapeString(s)
	s = replacePairs(s, "**", "<b>", "</b>")
	return replacePairs(s, "`", "<code>", "</code>")
}

func replacePairs(s, mark, open, close string) string {
	var sb strings.Builder
	on := false
	for {
		i := strings.Index(s, mark)
		if i < 0 {
			break
		}
		sb.WriteString(s[:i])
		if on {
			sb.WriteString(close)
		} else {
			sb.WriteString(open)
		}
		on = !on
		s = s[i+len(mark):]
	}
	sb.WriteString(s)
	if on {
		sb.WriteString(close)
	}
	return sb.String()
}

func (d document) Markdown() string {
	var sb strings.Builder
	for _, b := range d {
		b.markdown(&sb)
	}
	return sb.String()
}

const htmlStyle = `body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.25em .6em}th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%}figure{margin:1.5em 0}
figcaption{color:#555;font-size:.9em}code{background:#f3f3f3;padding:0 .2em}`

func (d document) HTML(title string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title><style>%s</style></head><body>\n", html.EscapeString(title), htmlStyle)
	for _, b := range d {
		b.html(&sb)
	}
	sb.WriteString("</body></html>\n")
	return sb.String()
}
