package data

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A valid Alpaca JSON array minified onto one line: every record starts on line 1, so the IDs
// carry the column and stay unique.
func TestMinifiedArrayGetsUniqueIDs(t *testing.T) {
	rec := `{"instruction":"Say %d.","input":"","output":"%d"}`
	var parts []string
	for i := 0; i < 4; i++ {
		parts = append(parts, fmt.Sprintf(rec, i, i))
	}
	p := writeTemp(t, "alpaca_min.json", "["+strings.Join(parts, ",")+"]")
	d, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range d.Samples {
		ids = append(ids, s.ID)
	}
	if got, want := strings.Join(ids, " "), "alpaca_min.json:1:2 alpaca_min.json:1:51 alpaca_min.json:1:100 alpaca_min.json:1:149"; got != want {
		t.Fatalf("ids %s, want %s", got, want)
	}
	// Records on lines of their own keep the plain file:line IDs, also in a mixed file.
	mixed := writeTemp(t, "mixed.json", "[\n"+parts[0]+",\n"+parts[1]+", "+parts[2]+"\n]")
	d, err = Load(mixed)
	if err != nil {
		t.Fatal(err)
	}
	if d.Samples[0].ID != "mixed.json:2" || d.Samples[1].ID != "mixed.json:3:1" || d.Samples[2].ID != "mixed.json:3:51" {
		t.Fatalf("mixed ids %s %s %s", d.Samples[0].ID, d.Samples[1].ID, d.Samples[2].ID)
	}
	// A syntax error in a later record of the line names its column.
	_, err = Load(writeTemp(t, "broken.json", "["+parts[0]+`,{"instruction":"x","output":"y"},{"instruction" "x"}]`))
	if err == nil || !strings.Contains(err.Error(), "broken.json:1: invalid character") {
		t.Fatalf("broken minified array: %v", err)
	}
	_, err = Load(writeTemp(t, "badrec.json", "["+parts[0]+`,{"instruction":"x"}]`))
	if err == nil || !strings.Contains(err.Error(), "badrec.json:1:51: missing field output") {
		t.Fatalf("bad second record: %v", err)
	}
}

// Input that never ends a line (/dev/zero) or never ends a record is capped with a clear error
// instead of being read into memory whole.
func TestEndlessInputIsCapped(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	_, err := LoadWith("/dev/zero", LoadOptions{MaxRecordBytes: 1 << 20})
	if want := "load dataset: /dev/zero:1: the line is longer than 1 MiB (MaxRecordBytes); not a dataset file?"; err == nil || err.Error() != want {
		t.Fatalf("/dev/zero: %v\nwant %s", err, want)
	}
	huge := writeTemp(t, "huge.json", `[{"instruction": "`+strings.Repeat("a", 3<<20)+`", "output": "b"}]`)
	_, err = LoadWith(huge, LoadOptions{MaxRecordBytes: 1 << 20})
	if err == nil || !strings.Contains(err.Error(), "huge.json:1: the array element starting here is longer than 1 MiB") {
		t.Fatalf("huge array element: %v", err)
	}
	garbage := strings.Repeat("\x01\x02 not json\n", maxLeadingBad+5)
	_, err = LoadWith(writeTemp(t, "garbage.jsonl", garbage), LoadOptions{SkipBad: true})
	if err == nil || !strings.Contains(err.Error(), "the first 1000 records are all malformed; is it a dataset file?") {
		t.Fatalf("garbage with SkipBad: %v", err)
	}
	bom := writeTemp(t, "bom.json", "\ufeff[\n"+`{"prompt":"a","completion":"b"}`+"\n]")
	if d, err := Load(bom); err != nil || d.Samples[0].ID != "bom.json:2" {
		t.Fatalf("array after a byte-order mark: %v %+v", err, d)
	}
}

func mkfifo(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "data.jsonl")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skip("no named pipes:", err)
	}
	return p
}

// A named pipe is read as a stream when a writer comes, also one that comes late and writes
// and leaves at once; without a writer, a cancellation ends the wait.
func TestNamedPipes(t *testing.T) {
	fifo := mkfifo(t)
	go func() {
		time.Sleep(200 * time.Millisecond)
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		fmt.Fprintln(w, `{"prompt": "a", "completion": "b"}`)
		fmt.Fprintln(w, `{"prompt": "c", "completion": "d"}`)
		w.Close()
	}()
	d, err := Load(fifo)
	if err != nil || d.Len() != 2 || d.Samples[1].ID != "data.jsonl:2" {
		t.Fatalf("late writer: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := LoadContext(ctx, fifo, LoadOptions{})
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled without a writer: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting for a writer ignores the cancellation")
	}

	// A writer that stops writing without closing: the blocked read ends on cancellation.
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		_, err := LoadContext(ctx, fifo, LoadOptions{})
		done <- err
	}()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	fmt.Fprint(w, `{"prompt": "a", "comp`)
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled in a read: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a blocked read ignores the cancellation")
	}
}
