package http

import "testing"

// strs gives every destination its value's text, the last one when a
// destination is added twice, empty values and values past the table's
// size included, with one allocation for the table.
func TestStrs(t *testing.T) {
	block := []byte("GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")
	var (
		t1  strs
		out [12]string
	)
	want := [12]string{}
	for i := range out {
		v := block[i : i+3+i%4]
		if i == 3 {
			v = nil
		}
		t1.add(&out[i], v)
		want[i] = string(v)
	}
	t1.add(&out[0], []byte("last"))
	want[0] = "last"
	t1.add(&out[1], nil)
	want[1] = ""
	t1.done()
	if out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
	var s string
	var t3 strs
	t3.add(&s, []byte("x"))
	t3.add(&s, nil)
	t3.done()
	if s != "" {
		t.Fatalf("an empty value after x: %q", s)
	}
	var host string
	if n := testing.AllocsPerRun(10, func() {
		var t2 strs
		t2.add(&host, block[4:6])
		t2.add(&host, block[7:9])
		t2.done()
	}); n != 1 {
		t.Errorf("%v allocations, want 1", n)
	}
}
