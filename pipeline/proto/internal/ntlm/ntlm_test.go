package ntlm

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseNegotiate(t *testing.T) {
	b := negotiateMsg(FlagUnicode|FlagOEMDomainSupplied|FlagOEMWorkstationSupplied, "WARD3", "NURSE-PC")
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Message{Type: 1, Domain: "WARD3", Workstation: "NURSE-PC", Flags: FlagUnicode | FlagOEMDomainSupplied | FlagOEMWorkstationSupplied}
	if m != want {
		t.Fatalf("got %+v, want %+v", m, want)
	}
	// Without the "supplied" flags the fields are ignored.
	m, err = Parse(negotiateMsg(FlagUnicode, "WARD3", "NURSE-PC"))
	if err != nil || m.Domain != "" || m.Workstation != "" {
		t.Fatalf("unsupplied fields decoded: %+v %v", m, err)
	}
	// The 16-byte form of old clients.
	m, err = Parse(negotiateMsg(FlagUnicode, "", "")[:16])
	if err != nil || m.Type != 1 {
		t.Fatalf("short negotiate: %+v %v", m, err)
	}
}

func TestParseChallenge(t *testing.T) {
	m, err := Parse(challengeMsg(FlagUnicode|FlagTargetInfo, "CONTOSO", "SERVER01", "server01.contoso.local"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != 2 || m.TargetName != "CONTOSO" || m.ServerNetBIOSName != "SERVER01" || m.ServerDNSName != "server01.contoso.local" {
		t.Fatalf("got %+v", m)
	}
	// OEM target name.
	m, err = Parse(challengeMsg(FlagOEM|FlagTargetInfo, "CONTOSO", "S", "s.local"))
	if err != nil || m.TargetName != "CONTOSO" {
		t.Fatalf("oem target: %+v %v", m, err)
	}
}

func TestParseAuthenticate(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		flags                uint32
		domain, user, ws     string
		wantUser, wantDomain string
	}{
		{"unicode", FlagUnicode, "CONTOSO", "Administrator", "WS01", "Administrator", "CONTOSO"},
		{"japanese", FlagUnicode, "病院", "看護師", "NURSE-PC", "看護師", "病院"},
		{"surrogate", FlagUnicode, "D", "u\U0001F600", "W", "u\U0001F600", "D"},
		{"oem", FlagOEM, "WORKGROUP", "chewbacca", "CORNWALIS", "chewbacca", "WORKGROUP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := authenticateMsg(tc.flags, tc.domain, tc.user, tc.ws, 60)
			m, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if m.Type != 3 || m.User != tc.wantUser || m.Domain != tc.wantDomain || m.Workstation != tc.ws || m.Flags != tc.flags {
				t.Fatalf("got %+v", m)
			}
			if m.Anonymous() {
				t.Fatal("named logon reported anonymous")
			}
			if v := NTLMVersion(b); v != "v2" {
				t.Fatalf("version %q, want v2", v)
			}
		})
	}
	b := authenticateMsg(FlagUnicode, "", "", "", 0)
	m, err := Parse(b)
	if err != nil || !m.Anonymous() || NTLMVersion(b) != "" {
		t.Fatalf("anonymous: %+v %v %q", m, err, NTLMVersion(b))
	}
	if v := NTLMVersion(authenticateMsg(FlagUnicode, "D", "u", "w", 24)); v != "v1" {
		t.Fatalf("24-byte NT response: %q, want v1", v)
	}
	// OEM bytes that are not UTF-8 (a Shift_JIS name) are replaced, never
	// passed through as invalid UTF-8.
	m, _ = Parse(authenticateMsg(FlagOEM, "D", "\x8a\xc5\x8c\xec\x82", "w", 60))
	if !utf8.ValidString(m.User) || !strings.Contains(m.User, "\uFFFD") {
		t.Fatalf("oem non-utf8 user %q", m.User)
	}
}

func TestParseErrors(t *testing.T) {
	auth := authenticateMsg(FlagUnicode, "CONTOSO", "Administrator", "WS01", 60)
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"signature", []byte("NTLMSSQ\x00\x03\x00\x00\x00"), ErrSignature},
		{"type", append(append([]byte{}, Signature...), 9, 0, 0, 0), ErrType},
		{"short auth", auth[:40], ErrShort},
		{"truncated payload", auth[:len(auth)-20], ErrBounds},
		{"short challenge", challengeMsg(FlagUnicode, "X", "Y", "Z")[:20], ErrShort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	// A truncated AUTHENTICATE still yields the fields before the cut: the
	// domain and user precede the workstation in the payload.
	m, err := Parse(auth[:len(auth)-16-1])
	if err == nil || m.Domain != "CONTOSO" || m.User != "Administrator" {
		t.Fatalf("partial: %+v %v", m, err)
	}
	// A huge declared offset or length is refused, not followed.
	bad := append([]byte{}, auth...)
	bad[36+4], bad[36+5], bad[36+6], bad[36+7] = 0xff, 0xff, 0xff, 0x7f
	if _, err := Parse(bad); !errors.Is(err, ErrBounds) {
		t.Fatalf("huge offset: %v", err)
	}
	// AV pair running past the target info.
	ch := challengeMsg(FlagUnicode, "T", "NB", "dns")
	ch[len(ch)-4-12+2] = 0xff // the timestamp pair's length
	if _, err := Parse(ch); !errors.Is(err, ErrBounds) {
		t.Fatalf("av pair overrun: %v", err)
	}
}

func TestStringBound(t *testing.T) {
	long := make([]byte, 0, 3000)
	for range 1500 {
		long = append(long, 'a')
	}
	m, err := Parse(authenticateMsg(FlagUnicode, "D", string(long), "W", 60))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.User) != MaxString/2 {
		t.Fatalf("user of %d bytes, want %d", len(m.User), MaxString/2)
	}
}

func TestFind(t *testing.T) {
	auth := authenticateMsg(FlagUnicode, "CONTOSO", "Administrator", "WS01", 60)
	blob := spnego(auth)
	m, ok := Find(blob)
	if !ok || m.User != "Administrator" || m.Domain != "CONTOSO" || m.Workstation != "WS01" {
		t.Fatalf("find in spnego: %+v %v", m, ok)
	}
	if FindNTLMVersion(blob) != "v2" {
		t.Fatal("FindNTLMVersion")
	}
	// A false signature before the real one is skipped.
	noisy := append([]byte("xxNTLMSSP\x00\x07\x00\x00\x00yy"), blob...)
	if m, ok := Find(noisy); !ok || m.User != "Administrator" {
		t.Fatalf("find after junk: %+v %v", m, ok)
	}
	if _, ok := Find([]byte("no ntlm here")); ok {
		t.Fatal("found in junk")
	}
	if _, ok := Find(blob[:len(blob)-20]); ok {
		t.Fatal("truncated blob reported as found")
	}
}

func TestParseAllocBound(t *testing.T) {
	b := spnego(authenticateMsg(FlagUnicode, "CONTOSO", "Administrator", "WS01", 60))
	n := testing.AllocsPerRun(100, func() { Find(b) })
	if n > 6 {
		t.Fatalf("Find allocates %.0f times, want ≤ 6 (one per string and its conversion)", n)
	}
}
