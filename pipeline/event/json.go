package event

import (
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
)

// JSON appends one JSON object to a byte slice without allocating. Keys are
// written in call order; the writer tracks only whether a comma is needed at
// each nesting level. Callers must balance Object/End calls.
type JSON struct {
	B     []byte
	depth int
	// first[d] is true while the object at depth d has no member yet.
	first [16]bool
}

// Begin starts the top-level object.
func (w *JSON) Begin() {
	w.B = append(w.B, '{')
	w.depth = 0
	w.first[0] = true
}

// Finish closes the top-level object.
func (w *JSON) Finish() { w.B = append(w.B, '}') }

func (w *JSON) key(k string) {
	if w.first[w.depth] {
		w.first[w.depth] = false
		w.B = append(w.B, '"')
	} else {
		w.B = append(w.B, ',', '"')
	}
	w.B = append(w.B, k...) // keys are constant, ASCII and need no escaping
	w.B = append(w.B, '"', ':')
}

// Object opens a nested object under key k.
func (w *JSON) Object(k string) {
	w.key(k)
	w.B = append(w.B, '{')
	w.depth++
	w.first[w.depth] = true
}

// End closes the innermost nested object.
func (w *JSON) End() {
	w.B = append(w.B, '}')
	w.depth--
}

// String writes k: "v" with JSON escaping.
func (w *JSON) String(k, v string) {
	w.key(k)
	w.B = AppendQuoted(w.B, v)
}

// StringIf writes k: "v" only when v is not empty.
func (w *JSON) StringIf(k, v string) {
	if v != "" {
		w.String(k, v)
	}
}

// Strings writes k: ["a","b"].
func (w *JSON) Strings(k string, vs ...string) {
	w.key(k)
	w.B = append(w.B, '[')
	for i, v := range vs {
		if i > 0 {
			w.B = append(w.B, ',')
		}
		w.B = AppendQuoted(w.B, v)
	}
	w.B = append(w.B, ']')
}

// Int writes k: v.
func (w *JSON) Int(k string, v int64) {
	w.key(k)
	w.B = strconv.AppendInt(w.B, v, 10)
}

// Uint writes k: v.
func (w *JSON) Uint(k string, v uint64) {
	w.key(k)
	w.B = strconv.AppendUint(w.B, v, 10)
}

// UintString writes k: "v", for ECS keyword fields that hold numbers
// (network.iana_number, network.vlan.id).
func (w *JSON) UintString(k string, v uint64) {
	w.key(k)
	w.B = append(w.B, '"')
	w.B = strconv.AppendUint(w.B, v, 10)
	w.B = append(w.B, '"')
}

// Bool writes k: true|false.
func (w *JSON) Bool(k string, v bool) {
	w.key(k)
	w.B = strconv.AppendBool(w.B, v)
}

// Time writes k: "2006-01-02T15:04:05.000000000Z" (UTC, fixed nanosecond width).
func (w *JSON) Time(k string, t time.Time) {
	w.key(k)
	w.B = append(w.B, '"')
	w.B = AppendTime(w.B, t)
	w.B = append(w.B, '"')
}

// AppendTime appends t in TimeLayout, in UTC. It is AppendFormat without
// the layout interpretation, which costs more than the rest of a flow
// record's encoding.
func AppendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, TimeLayout)
	}
	h, mi, s := t.Clock()
	ns := t.Nanosecond()
	var buf [30]byte
	put2 := func(i, v int) { buf[i], buf[i+1] = byte('0'+v/10), byte('0'+v%10) }
	put2(0, y/100)
	put2(2, y%100)
	buf[4] = '-'
	put2(5, int(mo))
	buf[7] = '-'
	put2(8, d)
	buf[10] = 'T'
	put2(11, h)
	buf[13] = ':'
	put2(14, mi)
	buf[16] = ':'
	put2(17, s)
	buf[19] = '.'
	for i := 28; i >= 20; i-- {
		buf[i] = byte('0' + ns%10)
		ns /= 10
	}
	buf[29] = 'Z'
	return append(b, buf[:]...)
}

// IP writes k: "addr".
func (w *JSON) IP(k string, a netip.Addr) {
	w.key(k)
	w.B = append(w.B, '"')
	w.B = a.AppendTo(w.B)
	w.B = append(w.B, '"')
}

// IPs writes k: ["a","b"], skipping invalid addresses and a repeated second one.
func (w *JSON) IPs(k string, a, b netip.Addr) {
	w.key(k)
	w.B = append(w.B, '[')
	n := 0
	for _, x := range [2]netip.Addr{a, b} {
		if !x.IsValid() || (n == 1 && x == a) {
			continue
		}
		if n > 0 {
			w.B = append(w.B, ',')
		}
		w.B = append(w.B, '"')
		w.B = x.AppendTo(w.B)
		w.B = append(w.B, '"')
		n++
	}
	w.B = append(w.B, ']')
}

// MAC writes k: "AA-BB-CC-DD-EE-FF", the ECS form of a MAC address.
func (w *JSON) MAC(k string, m [6]byte) {
	const hex = "0123456789ABCDEF"
	w.key(k)
	w.B = append(w.B, '"')
	for i, c := range m {
		if i > 0 {
			w.B = append(w.B, '-')
		}
		w.B = append(w.B, hex[c>>4], hex[c&0xf])
	}
	w.B = append(w.B, '"')
}

// TimeLayout is the fixed-width RFC 3339 layout of every timestamp mamori writes.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// AppendQuoted appends s as a JSON string. Invalid UTF-8 is replaced with
// U+FFFD so the output is always valid JSON.
func AppendQuoted(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plain marks the ASCII bytes a JSON string holds as they are.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// Array opens an array of objects under key k. Call Item for each element
// (closing it with End) and EndArray after the last.
func (w *JSON) Array(k string) {
	w.key(k)
	w.B = append(w.B, '[')
	w.depth++
	w.first[w.depth] = true
}

// Item opens the next object element of the innermost array; End closes it.
func (w *JSON) Item() {
	if !w.first[w.depth] {
		w.B = append(w.B, ',')
	}
	w.first[w.depth] = false
	w.B = append(w.B, '{')
	w.depth++
	w.first[w.depth] = true
}

// EndArray closes the innermost array.
func (w *JSON) EndArray() {
	w.B = append(w.B, ']')
	w.depth--
}
