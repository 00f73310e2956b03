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
	b := w.B
	if d := w.depth & (len(w.first) - 1); w.first[d] {
		w.first[d] = false
		b = append(b, '"')
	} else {
		b = append(b, ',', '"')
	}
	b = append(b, k...) // keys are constant, ASCII and need no escaping
	w.B = append(b, '"', ':')
}

// comma writes the separator before the next member of the innermost
// object, for code that appends whole members to B itself.
func (w *JSON) comma() {
	if d := w.depth & (len(w.first) - 1); w.first[d] {
		w.first[d] = false
	} else {
		w.B = append(w.B, ',')
	}
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
// record's encoding, and takes the date from the Unix time directly
// (days to civil date as in Howard Hinnant's chrono-Compatible Low-Level
// Date Algorithms) instead of through Date and Clock, which each redo the
// same division.
func AppendTime(b []byte, t time.Time) []byte {
	sec := t.Unix()
	if sec < minTimeSec || sec > maxTimeSec {
		return t.UTC().AppendFormat(b, TimeLayout)
	}
	ns := t.Nanosecond()
	// Shifted by one 400-year era so that everything from year 0 on is
	// positive and plain division floors.
	const era = 146097 // days in 400 years
	days := sec/86400 + era
	rem := int(sec % 86400)
	if rem < 0 {
		rem += 86400
		days--
	}
	z := int(days) + 719468 // days since 0000-03-01, one era earlier
	e := z / era
	doe := z - e*era
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + e*400 - 400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	mo := mp + 3
	if mp >= 10 {
		mo = mp - 9
		y++
	}
	h, mi, s := rem/3600, rem/60%60, rem%60
	var buf [30]byte
	put2 := func(i, v int) { buf[i], buf[i+1] = digits2[2*v], digits2[2*v+1] }
	put2(0, y/100)
	put2(2, y%100)
	buf[4] = '-'
	put2(5, mo)
	buf[7] = '-'
	put2(8, d)
	buf[10] = 'T'
	putClock(&buf, h, mi, s, ns)
	return append(b, buf[:]...)
}

// putClock writes "hh:mm:ss.nnnnnnnnnZ" at buf[11:] (after the date and
// its "T").
func putClock(buf *[30]byte, h, mi, s, ns int) {
	put2 := func(i, v int) { buf[i], buf[i+1] = digits2[2*v], digits2[2*v+1] }
	put2(11, h)
	buf[13] = ':'
	put2(14, mi)
	buf[16] = ':'
	put2(17, s)
	buf[19] = '.'
	put2(20, ns/10000000)
	put2(22, ns/100000%100)
	put2(24, ns/1000%100)
	put2(26, ns/10%100)
	buf[28] = byte('0' + ns%10)
	buf[29] = 'Z'
}

// The Unix times of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the
// range AppendTime formats itself.
const (
	minTimeSec = -62167219200
	maxTimeSec = 253402300799
)

// digits2 holds "00" to "99".
const digits2 = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// IP writes k: "addr".
func (w *JSON) IP(k string, a netip.Addr) {
	w.key(k)
	b := append(w.B, '"')
	b = a.AppendTo(b)
	w.B = append(b, '"')
}

// IPs writes k: ["a","b"], skipping invalid addresses and a repeated second one.
func (w *JSON) IPs(k string, a, b netip.Addr) {
	w.key(k)
	w.B = appendIPs(w.B, a, b)
}

// appendIPs appends ["a","b"], skipping invalid addresses and a repeated
// second one.
func appendIPs(dst []byte, a, b netip.Addr) []byte {
	dst = append(dst, '[')
	if a.IsValid() {
		dst = append(dst, '"')
		dst = a.AppendTo(dst)
		dst = append(dst, '"')
		if b.IsValid() && b != a {
			dst = append(dst, ',', '"')
			dst = b.AppendTo(dst)
			dst = append(dst, '"')
		}
	} else if b.IsValid() {
		dst = append(dst, '"')
		dst = b.AppendTo(dst)
		dst = append(dst, '"')
	}
	return append(dst, ']')
}

// MAC writes k: "AA-BB-CC-DD-EE-FF", the ECS form of a MAC address.
func (w *JSON) MAC(k string, m [6]byte) {
	w.key(k)
	b := append(w.B, '"')
	b = appendMAC(b, m)
	w.B = append(b, '"')
}

// appendMAC appends m as AA-BB-CC-DD-EE-FF.
func appendMAC(b []byte, m [6]byte) []byte {
	const hex = "0123456789ABCDEF"
	return append(b,
		hex[m[0]>>4], hex[m[0]&0xf], '-',
		hex[m[1]>>4], hex[m[1]&0xf], '-',
		hex[m[2]>>4], hex[m[2]&0xf], '-',
		hex[m[3]>>4], hex[m[3]&0xf], '-',
		hex[m[4]>>4], hex[m[4]&0xf], '-',
		hex[m[5]>>4], hex[m[5]&0xf])
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
		// Skip eight plain bytes at a time: a word with no byte below
		// 0x20, no '"', no '\\' and no byte from 0x80 on needs nothing.
		for i+8 <= len(s) && plainWord(uint64(s[i])|uint64(s[i+1])<<8|uint64(s[i+2])<<16|uint64(s[i+3])<<24|
			uint64(s[i+4])<<32|uint64(s[i+5])<<40|uint64(s[i+6])<<48|uint64(s[i+7])<<56) {
			i += 8
		}
		if i >= len(s) {
			break
		}
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

// plainWord reports whether the eight bytes of x are all plain: none is
// below 0x20, '"', '\\' or 0x80 and above. (x - 0x01…01·n) & ^x & 0x80…80
// is non-zero exactly when some byte of x is below n, for n up to 0x80, and
// a byte equal to c is a zero byte of x ^ 0x01…01·c.
func plainWord(x uint64) bool {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	q, bs := x^(ones*'"'), x^(ones*'\\')
	return ((x-ones*0x20)&^x|(q-ones)&^q|(bs-ones)&^bs|x)&high == 0
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
