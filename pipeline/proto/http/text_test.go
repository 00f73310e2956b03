package http

import "testing"

// headerText.of must equal string(b) for every b: subslices of the block
// (shared) and anything else (copied).
func TestHeaderTextOf(t *testing.T) {
	buf := make([]byte, 0, 64)
	buf = append(buf, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nextra"...)
	block := buf[:len(buf)-len("extra")]
	text := newHeaderText(block)
	for i := 0; i <= len(block); i++ {
		for j := i; j <= len(block); j++ {
			if got := text.of(block[i:j]); got != string(block[i:j]) {
				t.Fatalf("of(block[%d:%d]) = %q", i, j, got)
			}
		}
	}
	for _, b := range [][]byte{[]byte("Host"), buf[len(block)-2:], buf[len(block):], nil, []byte("GET")} {
		if got := text.of(b); got != string(b) {
			t.Fatalf("of(%q) = %q", b, got)
		}
	}
	if n := testing.AllocsPerRun(10, func() { _ = text.of(block[4:6]) }); n != 0 {
		t.Errorf("of a subslice: %v allocations", n)
	}
}
