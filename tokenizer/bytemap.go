package tokenizer

// The byte-level BPE family stores tokens as strings of printable characters: each byte is
// shown as one rune so that vocab and merges can be written in JSON without control characters
// or spaces. Printable Latin-1 bytes stand for themselves; the 68 others (controls, space,
// DEL, NBSP, soft hyphen...) are moved, in byte order, to U+0100 and up. This is the mapping
// of GPT-2's encoder, which every tokenizer.json with a ByteLevel pre-tokenizer relies on.

// byteRunes maps a byte to the rune that stands for it in vocab strings.
var byteRunes = func() [256]rune {
	var t [256]rune
	next := rune(256)
	for b := 0; b < 256; b++ {
		if printableByte(b) {
			t[b] = rune(b)
		} else {
			t[b] = next
			next++
		}
	}
	return t
}()

// runeBytes is the inverse of byteRunes, indexed by rune; -1 marks runes that stand for no
// byte. Every rune byteRunes produces is below 324.
var runeBytes = func() [324]int16 {
	var t [324]int16
	for i := range t {
		t[i] = -1
	}
	for b, r := range byteRunes {
		t[r] = int16(b)
	}
	return t
}()

func printableByte(b int) bool {
	return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
}

// byteOfRune returns the byte a vocab rune stands for.
func byteOfRune(r rune) (byte, bool) {
	if r < 0 || int(r) >= len(runeBytes) || runeBytes[r] < 0 {
		return 0, false
	}
	return byte(runeBytes[r]), true
}

// bytesToVocab writes raw bytes as a vocab string.
func bytesToVocab(s string) string {
	out := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		out[i] = byteRunes[s[i]]
	}
	return string(out)
}
