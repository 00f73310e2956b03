package smb

import (
	"testing"

	"mamori/pipeline/event"
)

// TestJoinedAndHex: the record's parts written without building strings
// are what the writer writes for the built strings, for names needing
// escapes, non-ASCII and invalid UTF-8 on either side of the backslash.
func TestJoinedAndHex(t *testing.T) {
	parts := []string{"", `\\srv\C$`, `dir\sub`, `a"b`, "tab\there", "日本語", "bad\xff", "\xe6\x97", "\xa5end", "ctl\x01"}
	for _, a := range parts {
		for _, b := range parts {
			var got, want event.JSON
			got.Begin()
			want.Begin()
			got.String("x", "first")
			want.String("x", "first")
			joined(&got, "path", a, b)
			want.String("path", a+`\`+b)
			got.Finish()
			want.Finish()
			if string(got.B) != string(want.B) {
				t.Errorf("%q + %q:\n%s\nwant\n%s", a, b, got.B, want.B)
			}
		}
	}
	for _, v := range []uint64{0, 1, 0xabc, 0x0000400000000001, 1<<64 - 1} {
		if got, want := string(appendHex64(nil, v)), hex64(v); got != want {
			t.Errorf("%#x: %s, want %s", v, got, want)
		}
	}
}
