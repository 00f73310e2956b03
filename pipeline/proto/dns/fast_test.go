package dns

import (
	"slices"
	"testing"

	"golang.org/x/net/publicsuffix"

	"mamori/internal/testenv"
	"mamori/pipeline/proto/prototest"
)

// Match decodes in validate mode (no text kept); its verdict must be the
// full decoder's. checkValidate compares what Match reads of both.
func checkValidate(t *testing.T, b []byte) {
	t.Helper()
	for _, maxAnswers := range []int{1, 64} {
		full := message{maxAnswers: maxAnswers}
		var s1 [512]byte
		_, ok1 := parse(b, &full, s1[:0])
		fast := message{maxAnswers: maxAnswers, validate: true, answers: make([]Answer, 0, maxAnswers)}
		var s2 [512]byte
		_, ok2 := parse(b, &fast, s2[:0])
		if ok1 != ok2 || full.complete != fast.complete || full.end != fast.end || len(full.questions) != len(fast.questions) ||
			len(full.answers) != len(fast.answers) || full.answersDropped != fast.answersDropped ||
			!slices.Equal(full.anomalies, fast.anomalies) || full.do != fast.do || full.extRcode != fast.extRcode {
			t.Fatalf("validate mode differs on %x:\nfull %+v\nfast %+v", b, full, fast)
		}
		for i := range fast.answers {
			if full.answers[i].IP != fast.answers[i].IP || full.answers[i].TTL != fast.answers[i].TTL {
				t.Fatalf("answer %d differs on %x", i, b)
			}
		}
	}
}

func TestValidateModeReal(t *testing.T) {
	n := 0
	for _, c := range bundled {
		for _, st := range prototest.Streams(t, testenv.Pcap(t, c)) {
			for _, ch := range st.Chunks {
				if len(ch.Data) == 0 {
					continue
				}
				b := ch.Data
				if !st.UDP && len(b) > 2 {
					b = b[2:] // TCP: the first message after its length
				}
				checkValidate(t, b)
				for _, cut := range []int{len(b) / 2, len(b) - 1, headerLen + 3} {
					if cut > 0 && cut < len(b) {
						checkValidate(t, b[:cut])
					}
				}
				n++
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d messages checked", n)
	}
}

func TestTLDPlusOne(t *testing.T) {
	names := []string{
		"www.msftncsi.com", "a.b.example.co.uk", "example.co.uk", "co.uk", "com", "localhost",
		"x.local", "a..b.com", ".a.com", "a.com.", "foo.blogspot.com", "1.2.3.4", "::1",
		"xn--p1ai", "a.xn--p1ai", "a.b.c.d.e.kawasaki.jp", "city.kawasaki.jp", "www.ck", "a.b.ck",
		"wpad", "_ldap._tcp.dc._msdcs.picklesworth.local", "a.github.io", "github.io",
	}
	for _, c := range bundled {
		for _, r := range recs(t, prototest.Records(t, testenv.Pcap(t, c), mustNew(t, Config{}))) {
			names = append(names, r.Name)
		}
	}
	for _, n := range names {
		suffix, _ := publicsuffix.PublicSuffix(n)
		want, err := publicsuffix.EffectiveTLDPlusOne(n)
		got, ok := tldPlusOne(n, suffix)
		if ok != (err == nil) || got != want {
			t.Errorf("tldPlusOne(%q) = %q, %v; EffectiveTLDPlusOne = %q, %v", n, got, ok, want, err)
		}
	}
}

// TestMatchAllocs: Match on a whole message allocates nothing.
func TestMatchAllocs(t *testing.T) {
	p := mustNew(t, Config{})
	q := answerA(1, "a.example", 0, [4]byte{1, 2, 3, 4})
	info := udpInfo()
	if !p.Match(info, 0, q) {
		t.Fatal("no match")
	}
	if n := testing.AllocsPerRun(100, func() { p.Match(info, 0, q) }); n != 0 {
		t.Errorf("Match: %v allocations", n)
	}
}

// The cache gives splitDomain's answers, also past its bound.
func TestDomainCache(t *testing.T) {
	c := &domainCache{max: 3}
	names := []string{"www.example.com", "a.b.co.uk", "x.local", "www.example.com", "co.uk", "1.2.3.4", "a.b.co.uk", "WWW.Example.COM."}
	for range 3 {
		for _, n := range names {
			var want domainSplit
			want.reg, want.sub, want.tld = splitDomain(n)
			if got := c.split(n); got != want {
				t.Fatalf("split(%q) = %+v, want %+v", n, got, want)
			}
			if len(c.m) > c.max {
				t.Fatalf("cache holds %d names, max %d", len(c.m), c.max)
			}
		}
	}
}

// TestRecycle: sessions taken from the pool (after End and Recycle) give
// the records fresh ones give, flow after flow.
func TestRecycle(t *testing.T) {
	var streams []prototest.Stream
	for _, c := range bundled {
		streams = append(streams, prototest.Streams(t, testenv.Pcap(t, c))...)
	}
	prototest.CheckRecycle(t, mustNew(t, Config{}), mustNew(t, Config{}), streams, 50)
}
