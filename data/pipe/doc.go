// Package pipe is the tiny programming language of the embedded code task: a program is a
// pipeline of stages applied to a list of integers, for example
//
//	map x*x | filter x>5 | sum
//
// squares every number, keeps those above 5 and adds them up. The language is small enough for
// a model of a few million parameters to learn to write from a description in words, and real
// enough that answers are checked by running them (pass@1 on hidden inputs) rather than by
// comparing text, so any correct program counts.
//
// Grammar (spaces are free between tokens):
//
//	program := stage { "|" stage }
//	stage   := "map" expr | "filter" expr cmp expr | "take" int | "drop" int
//	         | "sort" | "rev" | "sum" | "max" | "min" | "len" | "first" | "last"
//	expr    := term { ("+" | "-") term }
//	term    := unary { ("*" | "/" | "%") unary }
//	unary   := "-" unary | int | "x" | "(" expr ")"
//	cmp     := "==" | "!=" | "<" | "<=" | ">" | ">="
//
// The value flowing through the pipe starts as the input list. map, filter, take, drop, sort
// and rev take and give a list; sum, max, min, len, first and last turn a list into a number,
// which must be the last stage. x is the current element. Arithmetic is on 64-bit integers;
// / and % truncate toward zero, as in Go.
//
// Running untrusted model output is safe: programs are limited in size, nesting and steps,
// overflow and division by zero are errors, and nothing panics. Errors say what and where.
package pipe
