package data

import (
	"sort"
	"strconv"
	"strings"
)

// Made-up words keep the strings task about following the instruction, not about knowing
// English: consonants and vowels alternate over 3-5 letters ("kob", "sanu", "bimel"), some
// twenty thousand pronounceable words. They are short because a model of a few million
// parameters copies long letter strings poorly within the study's budget.
var (
	consonants = []string{"b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"}
	vowels     = []string{"a", "e", "i", "o", "u"}
)

func word(r *rng) string {
	var sb strings.Builder
	for i, n := 0, r.between(3, 5); i < n; i++ {
		if i%2 == 0 {
			sb.WriteString(r.pick(consonants))
		} else {
			sb.WriteString(r.pick(vowels))
		}
	}
	return sb.String()
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

func isVowel(c byte) bool { return strings.IndexByte("aeiou", c) >= 0 }

// stringOps are the transformations of the strings task: phrasings of the instruction (%s is
// the word) and the function computing the answer. They range from picking one letter or
// counting (easy) through copying with a twist (capitals, twice) to ones small models find
// hard (reverse, sort).
var stringOps = []struct {
	phrasings []string
	apply     func(w string) string
}{
	{[]string{"Reverse the word %s.", "Write %s backwards."}, reverse},
	{[]string{"Write %s in capital letters.", "Uppercase %s."}, strings.ToUpper},
	{[]string{"Capitalize %s.", "Start %s with a capital letter."}, func(w string) string { return strings.ToUpper(w[:1]) + w[1:] }},
	{[]string{"Write %s twice.", "Repeat %s two times."}, func(w string) string { return w + " " + w }},
	{[]string{"Remove the vowels from %s.", "Write %s without vowels."}, func(w string) string {
		var b []byte
		for i := 0; i < len(w); i++ {
			if !isVowel(w[i]) {
				b = append(b, w[i])
			}
		}
		return string(b)
	}},
	{[]string{"Give the first two letters of %s.", "What are the first 2 letters of %s?"}, func(w string) string { return w[:2] }},
	{[]string{"Give the last two letters of %s.", "What are the last 2 letters of %s?"}, func(w string) string { return w[len(w)-2:] }},
	{[]string{"What is the first letter of %s?", "Give the first letter of %s."}, func(w string) string { return w[:1] }},
	{[]string{"What is the last letter of %s?", "Give the last letter of %s."}, func(w string) string { return w[len(w)-1:] }},
	{[]string{"Sort the letters of %s.", "Put the letters of %s in alphabetical order."}, func(w string) string {
		b := []byte(w)
		sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
		return string(b)
	}},
	{[]string{"How many letters are in %s?", "Count the letters of %s."}, func(w string) string { return strconv.Itoa(len(w)) }},
	{[]string{"How many vowels are in %s?", "Count the vowels of %s."}, func(w string) string {
		n := 0
		for i := 0; i < len(w); i++ {
			if isVowel(w[i]) {
				n++
			}
		}
		return strconv.Itoa(n)
	}},
}

func genStrings(r *rng) Sample {
	op := stringOps[r.intn(len(stringOps))]
	w := word(r)
	phr := op.phrasings[r.intn(len(op.phrasings))]
	return Sample{Prompt: strings.Replace(phr, "%s", w, 1), Response: op.apply(w)}
}

// The table task: three rows of a name and a one-digit number, then one question about them.
// Answers are one token or one short name, so the task is about finding the right row, not
// about copying long strings.
var (
	people = []string{"Ana", "Bo", "Cy", "Dee", "Eli", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kai", "Lu",
		"Max", "Ned", "Oli", "Pam", "Ray", "Sue", "Tom", "Uma", "Vic", "Wes", "Zoe", "Ian"}
	goods = []string{"tea", "jam", "egg", "oil", "fig", "rye", "ham", "nut", "pea", "yam", "cod", "bun"}
)

// tableKinds are the kinds of table: its title, the row names, and question phrasings. In the
// phrasings %n is a row name, %v a value, %a and %b two row names.
var tableKinds = []struct {
	title                     string
	names                     []string
	lookup, reverse, max, min string
	compareMore, compareFewer string
}{
	{"Ages", people, "How old is %n?", "Who is %v?", "Who is oldest?", "Who is youngest?", "Who is older, %a or %b?", "Who is younger, %a or %b?"},
	{"Scores", people, "What did %n score?", "Who scored %v?", "Who scored highest?", "Who scored lowest?", "Who scored more, %a or %b?", "Who scored less, %a or %b?"},
	{"Prices", goods, "How much is %n?", "What costs %v?", "What is the most expensive?", "What is the cheapest?", "Which costs more, %a or %b?", "Which costs less, %a or %b?"},
}

func genTable(r *rng) Sample {
	k := tableKinds[r.intn(len(tableKinds))]
	rows := 3
	order := r.perm(len(k.names))[:rows]
	names := make([]string, rows)
	vals := make([]int, rows)
	used := map[int]bool{}
	var sb strings.Builder
	sb.WriteString(k.title + ": ")
	for i, idx := range order {
		names[i] = k.names[idx]
		v := r.between(1, 9)
		for used[v] {
			v = r.between(1, 9)
		}
		used[v] = true
		vals[i] = v
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(names[i] + " " + strconv.Itoa(v))
	}
	sb.WriteString(". ")
	hi, lo := 0, 0
	for i := range vals {
		if vals[i] > vals[hi] {
			hi = i
		}
		if vals[i] < vals[lo] {
			lo = i
		}
	}
	i := r.intn(rows)
	j := (i + 1 + r.intn(rows-1)) % rows
	var q, a string
	switch r.intn(6) {
	case 0:
		q, a = strings.Replace(k.lookup, "%n", names[i], 1), strconv.Itoa(vals[i])
	case 1:
		q, a = strings.Replace(k.reverse, "%v", strconv.Itoa(vals[i]), 1), names[i]
	case 2:
		q, a = k.max, names[hi]
	case 3:
		q, a = k.min, names[lo]
	case 4:
		q = strings.NewReplacer("%a", names[i], "%b", names[j]).Replace(k.compareMore)
		a = names[i]
		if vals[j] > vals[i] {
			a = names[j]
		}
	default:
		q = strings.NewReplacer("%a", names[i], "%b", names[j]).Replace(k.compareFewer)
		a = names[i]
		if vals[j] < vals[i] {
			a = names[j]
		}
	}
	sb.WriteString(q)
	return Sample{Prompt: sb.String(), Response: a}
}
