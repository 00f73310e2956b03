package http

import (
	"fmt"
	"strings"
	"testing"
)

// TestLineEnds: the start line and fields walked from the line ends noted
// while the block's end was found are what splitStart and eachField give,
// for CRLF and bare LF blocks, folded and colon-less lines, empty values
// and blocks with more lines than are noted.
func TestLineEnds(t *testing.T) {
	many := "GET / HTTP/1.1\r\n"
	for i := range 100 {
		many += fmt.Sprintf("X-%d: %d\r\n", i, i)
	}
	many += "\r\n"
	blocks := []string{
		"GET /a HTTP/1.1\r\nHost: a\r\nUser-Agent:  b c \r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 3\nServer:x\n\nabc",
		"GET / HTTP/1.0\r\nHost: a\r\n folded\r\nnocolon\r\n: empty name\r\nX:\r\n\r\n",
		"POST / HTTP/1.1\r\nA: 1\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\n\n",
		"\r\n\r\n",
		many,
	}
	for _, b := range blocks {
		var e lineEnds
		i := endOfHeadersAt([]byte(b), &e)
		if j := endOfHeaders([]byte(b), 0); i != j {
			t.Fatalf("%q: end %d, endOfHeaders %d", b, i, j)
		}
		if i < 0 {
			t.Fatalf("%q: no end", b)
		}
		block := []byte(b[:i])
		var got, want []string
		collect := func(out *[]string) func(n, v []byte) {
			return func(n, v []byte) { *out = append(*out, string(n)+"="+string(v)) }
		}
		eachHeaderField(block, &e, collect(&got))
		line, fields := splitStart(block)
		eachField(fields, collect(&want))
		if g := string(startLine(block, &e)); g != string(line) {
			t.Errorf("%q: start line %q, want %q", b, g, line)
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%q: fields\n%v\nwant\n%v", b, got, want)
		}
		if b == many && e.n != -1 {
			t.Errorf("100 lines noted: n=%d", e.n)
		}
	}
}
